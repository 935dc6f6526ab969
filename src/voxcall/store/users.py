"""Console sign-ins: operator accounts, project users and their server-side sessions."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from voxcall.domain.users import Operator, ProjectUser, Role, Session
from voxcall.store import schema as t
from voxcall.store.database import Database, new_id


class Users(Database):
    """Operators, project users (with their password hashes) and console sessions."""

    # -- operators -------------------------------------------------------------------

    def add_operator(self, username: str, password_hash: str) -> Operator:
        operator = Operator(new_id(), username, int(time.time()))
        with self._write() as conn:
            conn.execute(
                insert(t.operators).values(
                    id=operator.id,
                    username=username,
                    password_hash=password_hash,
                    created_at=operator.created_at,
                )
            )
        return operator

    def list_operators(self) -> list[Operator]:
        with self._read() as conn:
            rows = conn.execute(select(t.operators).order_by(t.operators.c.username)).all()
        return [_operator(r._mapping) for r in rows]

    def operator_login(self, username: str) -> tuple[Operator, str] | None:
        """The operator named `username` and its password hash."""
        with self._read() as conn:
            row = conn.execute(
                select(t.operators).where(t.operators.c.username == username)
            ).first()
        return (_operator(row._mapping), row.password_hash) if row else None

    def remove_operator(self, username: str) -> bool:
        with self._write() as conn:
            ids = select(t.operators.c.id).where(t.operators.c.username == username)
            conn.execute(
                delete(t.console_sessions).where(t.console_sessions.c.operator_id.in_(ids))
            )
            return (
                conn.execute(delete(t.operators).where(t.operators.c.username == username)).rowcount
                > 0
            )

    # -- project users ---------------------------------------------------------------

    def add_project_user(
        self, project_id: str, email: str, role: Role, password_hash: str
    ) -> ProjectUser:
        user = ProjectUser(new_id(), project_id, email, role, int(time.time()))
        with self._write() as conn:
            conn.execute(
                insert(t.project_users).values(
                    id=user.id,
                    project_id=project_id,
                    email=email,
                    password_hash=password_hash,
                    role=role.value,
                    created_at=user.created_at,
                )
            )
        return user

    def list_project_users(self, project_id: str | None = None) -> list[ProjectUser]:
        query = select(t.project_users).order_by(t.project_users.c.email)
        if project_id is not None:
            query = query.where(t.project_users.c.project_id == project_id)
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [_user(r._mapping) for r in rows]

    def user_login(self, email: str) -> tuple[ProjectUser, str] | None:
        """The project user with `email` and its password hash."""
        with self._read() as conn:
            row = conn.execute(
                select(t.project_users).where(t.project_users.c.email == email)
            ).first()
        return (_user(row._mapping), row.password_hash) if row else None

    def set_project_user_role(self, user_id: str, role: Role) -> None:
        with self._write() as conn:
            conn.execute(
                update(t.project_users)
                .where(t.project_users.c.id == user_id)
                .values(role=role.value)
            )

    def remove_project_user(self, email: str) -> bool:
        with self._write() as conn:
            ids = select(t.project_users.c.id).where(t.project_users.c.email == email)
            conn.execute(delete(t.console_sessions).where(t.console_sessions.c.user_id.in_(ids)))
            removed = conn.execute(delete(t.project_users).where(t.project_users.c.email == email))
            return removed.rowcount > 0

    # -- sessions --------------------------------------------------------------------

    def add_session(
        self, session_id: str, csrf_token: str, *, operator_id: str | None, user_id: str | None
    ) -> None:
        now = time.time()
        with self._write() as conn:
            conn.execute(
                insert(t.console_sessions).values(
                    id=session_id,
                    operator_id=operator_id,
                    user_id=user_id,
                    csrf_token=csrf_token,
                    created_at=now,
                    last_seen_at=now,
                )
            )
            _seen(conn, operator_id, user_id, now)

    def get_session(self, session_id: str) -> Session | None:
        s, o, u = t.console_sessions, t.operators, t.project_users
        query = (
            select(
                s,
                o.c.username,
                o.c.created_at.label("operator_created_at"),
                u.c.project_id,
                u.c.email,
                u.c.role,
                u.c.created_at.label("user_created_at"),
            )
            .outerjoin(o, o.c.id == s.c.operator_id)
            .outerjoin(u, u.c.id == s.c.user_id)
            .where(s.c.id == session_id)
        )
        with self._read() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        m = row._mapping
        operator = (
            Operator(m["operator_id"], m["username"], m["operator_created_at"])
            if m["operator_id"] and m["username"] is not None
            else None
        )
        user = (
            ProjectUser(
                m["user_id"], m["project_id"], m["email"], Role(m["role"]), m["user_created_at"]
            )
            if m["user_id"] and m["email"] is not None
            else None
        )
        return Session(
            id=m["id"],
            csrf_token=m["csrf_token"],
            created_at=m["created_at"],
            last_seen_at=m["last_seen_at"],
            operator=operator,
            user=user,
        )

    def touch_session(self, session: Session, now: float) -> None:
        """The session and the person signed in to it were seen at `now`."""
        with self._write() as conn:
            conn.execute(
                update(t.console_sessions)
                .where(t.console_sessions.c.id == session.id)
                .values(last_seen_at=now)
            )
            _seen(
                conn,
                session.operator.id if session.operator else None,
                session.user.id if session.user else None,
                now,
            )

    def end_session(self, session_id: str) -> None:
        with self._write() as conn:
            conn.execute(delete(t.console_sessions).where(t.console_sessions.c.id == session_id))

    def end_idle_sessions(self, seen_before: float) -> int:
        with self._write() as conn:
            return conn.execute(
                delete(t.console_sessions).where(t.console_sessions.c.last_seen_at < seen_before)
            ).rowcount


def _seen(conn: Connection, operator_id: str | None, user_id: str | None, now: float) -> None:
    """Persist when an operator or a project user was last seen, beyond their sessions."""
    if operator_id is not None:
        o = t.operators.c
        conn.execute(update(t.operators).where(o.id == operator_id).values(last_seen_at=now))
    if user_id is not None:
        u = t.project_users.c
        conn.execute(update(t.project_users).where(u.id == user_id).values(last_seen_at=now))


def _operator(m: Mapping[Any, Any]) -> Operator:
    return Operator(m["id"], m["username"], m["created_at"], m["last_seen_at"])


def _user(m: Mapping[Any, Any]) -> ProjectUser:
    return ProjectUser(
        m["id"], m["project_id"], m["email"], Role(m["role"]), m["created_at"], m["last_seen_at"]
    )
