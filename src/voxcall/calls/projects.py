"""Projects, their API tokens and their webhook: what an operator sets up for a client."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from voxcall.calls.accounts import check_top_up
from voxcall.calls.call_windows import project_window, rewindow
from voxcall.calls.errors import AdminRefused, NotFound
from voxcall.calls.windows import Window
from voxcall.domain.projects import Project
from voxcall.store.database import Conflict
from voxcall.store.store import Store
from voxcall.tokens import PREFIX_LENGTH, hash_token, new_token
from voxcall.webhooks.signing import new_secret

DEFAULT_REGIONS = ("IR",)  # where a new project may call until told otherwise


class ProjectService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, name: str, *, rate_limit: int, opening_milli: int = 0) -> Project:
        """A new project, credited with `opening_milli` when that is not 0."""
        if opening_milli:
            check_top_up(opening_milli)
        try:
            project = self.store.create_project(
                name, rate_limit=rate_limit, allowed_regions=DEFAULT_REGIONS
            )
        except Conflict:
            raise AdminRefused(f"a project named {name!r} exists") from None
        if opening_milli:
            self.store.credit(project.id, opening_milli, kind="topup", note="opening balance")
        return project

    def find(self, name: str) -> Project | None:
        return self.store.project_by_name(name)

    def named(self, name: str) -> Project:
        project = self.find(name)
        if project is None:
            raise AdminRefused(f"no project named {name!r}")
        return project

    def get(self, project_id: str) -> Project:
        """The project with this id, as it is now."""
        project = self.store.get_project(project_id)
        if project is None:
            raise NotFound("project: no such project")
        return project

    def list(self) -> list[Project]:
        return self.store.list_projects()

    def update(
        self,
        project: Project,
        *,
        rate_limit: int | None = None,
        default_dialer: str | None = None,
        allowed_regions: Sequence[str] | None = None,
        storage_quota: int | None = None,
        window: Window | None = None,
        clear_window: bool = False,
    ) -> None:
        """Change what is given; `default_dialer=""` clears the project's default dialer,
        `clear_window` its default calling window (its calls may then start at any time).
        Calls the old window held that the new one (or none) lets go earlier are due then."""
        if default_dialer and self.store.get_dialer(default_dialer) is None:
            raise AdminRefused(f"no dialer {default_dialer!r}")
        self.store.update_project(
            project.id,
            rate_limit=rate_limit,
            default_dialer_id=default_dialer or None,
            clear_default_dialer=default_dialer == "",
            allowed_regions=allowed_regions,
            storage_quota=storage_quota,
            window=json.dumps(window.to_json()) if window is not None else None,
            clear_window=clear_window,
        )
        if window is not None or clear_window:
            rewindow(self.store, time.time(), project_id=project.id)

    @staticmethod
    def window(project: Project) -> Window | None:
        """The project's default calling window; None: its calls may start at any time."""
        return project_window(project)

    def issue_token(self, project: Project) -> str:
        """A new API token for `project`: returned once, only its hash is kept."""
        token = new_token()
        self.store.add_token(project.id, prefix=token.prefix, token_hash=token.token_hash)
        return token.token

    def revoke_token(self, given: str) -> None:
        """Revoke the one live token that starts with `given` (with or without `vx_`), or that
        is `given` whole. A prefix that two live tokens share revokes nothing."""
        rest = given.removeprefix("vx_")
        if len(rest) < PREFIX_LENGTH:
            raise AdminRefused(f"give at least the first {PREFIX_LENGTH} characters after 'vx_'")
        prefix = rest[:PREFIX_LENGTH]
        # Only the prefix is stored in clear: anything longer must be the whole token.
        whole = len(rest) > PREFIX_LENGTH
        matched = self.store.revoke_token(
            prefix, token_hash=hash_token(f"vx_{rest}") if whole else None
        )
        if matched == 0:
            raise AdminRefused(f"no live token {'is' if whole else 'starts with'} {given!r}")
        if matched > 1:
            raise AdminRefused(
                f"{prefix!r} starts more than one live token; nothing was revoked: "
                "give the whole token"
            )

    def set_webhook(self, project: Project, url: str) -> str:
        """Send `project`'s final calls to `url`, signed with a new secret, returned once."""
        secret = new_secret()
        self.store.set_webhook(project.id, url, secret)
        return secret

    def clear_webhook(self, project: Project) -> None:
        self.store.set_webhook(project.id, None, None)
