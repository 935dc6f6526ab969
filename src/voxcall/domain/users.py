"""People who sign in to the console: operator accounts, project users, their sessions."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(enum.Enum):
    """A project user's role: a member sends and reads; an owner also manages tokens, the
    webhook and the project's users."""

    OWNER = "owner"
    MEMBER = "member"


@dataclass(frozen=True, slots=True)
class Operator:
    id: str
    username: str
    created_at: int
    last_seen_at: float | None = None  # their latest console request, to TOUCH_EVERY


@dataclass(frozen=True, slots=True)
class ProjectUser:
    id: str
    project_id: str
    email: str
    role: Role
    created_at: int
    last_seen_at: float | None = None  # their latest console request, to TOUCH_EVERY

    @property
    def is_owner(self) -> bool:
        return self.role is Role.OWNER


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in browser: exactly one of `operator` and `user` is set."""

    id: str  # the hash of the cookie's token; the token itself is never stored
    csrf_token: str
    created_at: float
    last_seen_at: float
    operator: Operator | None = None
    user: ProjectUser | None = None
