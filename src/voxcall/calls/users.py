"""Who may sign in to the console, and their sessions: operators and project users with
Argon2id password hashes, sessions keyed by the hash of a random token, ended when idle."""

from __future__ import annotations

import functools
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from voxcall.calls.errors import AdminRefused, NotFound
from voxcall.domain.users import Operator, ProjectUser, Role, Session
from voxcall.store.database import Conflict
from voxcall.store.store import Store

MIN_PASSWORD = 8
IDLE_TIMEOUT = 3600.0  # seconds without a request after which a session has ended
TOUCH_EVERY = 60.0  # a session's last-seen time is written at most this often


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A new session: `token` goes in the cookie, once; the store keeps only its hash."""

    token: str
    session: Session


def session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class UserService:
    def __init__(
        self,
        store: Store,
        *,
        hasher: PasswordHasher | None = None,
        idle_timeout: float = IDLE_TIMEOUT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.hasher = hasher or PasswordHasher()  # Argon2id with the library's defaults
        self.idle_timeout = idle_timeout
        self.clock = clock

    @functools.cached_property
    def _decoy(self) -> str:
        """Verified when the login names nobody, so that an unknown name costs as much time
        as a wrong password and does not tell which names exist (made on first need: every
        CLI command builds this service)."""
        return self.hasher.hash(secrets.token_hex(16))

    def _hash(self, password: str) -> str:
        if len(password) < MIN_PASSWORD:
            raise AdminRefused(f"password: at least {MIN_PASSWORD} characters")
        return self.hasher.hash(password)

    # -- accounts --------------------------------------------------------------------

    def add_operator(self, username: str, password: str) -> Operator:
        if not username.strip() or len(username) > 100:
            raise AdminRefused("username: 1 to 100 characters")
        try:
            return self.store.add_operator(username, self._hash(password))
        except Conflict:
            raise AdminRefused(f"an operator named {username!r} exists") from None

    def operators(self) -> list[Operator]:
        return self.store.list_operators()

    def remove_operator(self, username: str) -> None:
        if not self.store.remove_operator(username):
            raise AdminRefused(f"no operator named {username!r}")

    def add_user(self, project_id: str, email: str, role: Role, password: str) -> ProjectUser:
        email = email.strip().lower()
        if "@" not in email or len(email) > 254:
            raise AdminRefused(f"email: {email!r} is not an email address")
        try:
            return self.store.add_project_user(project_id, email, role, self._hash(password))
        except Conflict:
            raise AdminRefused(f"a user with email {email!r} exists") from None

    def users(self, project_id: str | None = None) -> list[ProjectUser]:
        return self.store.list_project_users(project_id)

    def remove_user(self, email: str) -> None:
        if not self.store.remove_project_user(email.strip().lower()):
            raise AdminRefused(f"no user with email {email!r}")

    # -- a project's users, as its owners manage them ---------------------------------

    def set_role(self, project_id: str, user_id: str, role: Role) -> None:
        user = self._of_project(project_id, user_id)
        if role is not Role.OWNER:
            self._keep_an_owner(project_id, user)
        self.store.set_project_user_role(user.id, role)

    def remove_from_project(self, project_id: str, user_id: str) -> None:
        user = self._of_project(project_id, user_id)
        self._keep_an_owner(project_id, user)
        self.store.remove_project_user(user.email)

    def _of_project(self, project_id: str, user_id: str) -> ProjectUser:
        """The project's user `user_id`; another project's is NotFound like an unknown id."""
        for user in self.users(project_id):
            if user.id == user_id:
                return user
        raise NotFound("no such user")

    def _keep_an_owner(self, project_id: str, leaving: ProjectUser) -> None:
        """Refuse to leave the project without an owner: no one could manage it then."""
        others = (u for u in self.users(project_id) if u.id != leaving.id)
        if leaving.is_owner and not any(u.is_owner for u in others):
            raise AdminRefused("A project keeps at least one owner.")

    # -- sessions --------------------------------------------------------------------

    def sign_in(self, login: str, password: str) -> SignedIn | None:
        """A new session for the operator named `login` or the user whose email it is, if
        `password` is theirs; None otherwise (which of the two was wrong is not said)."""
        operator = self.store.operator_login(login)
        user = None if operator else self.store.user_login(login.strip().lower())
        found = operator or user
        if not self._verify(found[1] if found else self._decoy, password) or found is None:
            return None
        token = secrets.token_urlsafe(32)
        sid = session_id(token)
        self.store.add_session(
            sid,
            secrets.token_urlsafe(32),
            operator_id=operator[0].id if operator else None,
            user_id=user[0].id if user else None,
        )
        session = self.store.get_session(sid)
        assert session is not None
        return SignedIn(token, session)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def session(self, token: str) -> Session | None:
        """The live session of the cookie's `token`; an idle one is ended and is None."""
        sid = session_id(token)
        session = self.store.get_session(sid)
        if session is None or (session.operator is None and session.user is None):
            return None
        now = self.clock()
        if now - session.last_seen_at > self.idle_timeout:
            self.store.end_session(sid)
            return None
        if now - session.last_seen_at > TOUCH_EVERY:
            self.store.touch_session(session, now)
        return session

    def sign_out(self, token: str) -> None:
        self.store.end_session(session_id(token))
