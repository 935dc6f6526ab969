"""UserService on each backend: accounts, Argon2id hashes, sign-in, idle sessions, sign-out."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from voxcall.calls.errors import AdminRefused, NotFound
from voxcall.calls.projects import ProjectService
from voxcall.calls.users import TOUCH_EVERY, UserService, session_id
from voxcall.domain.users import Role
from voxcall.store import schema
from voxcall.store.store import Store

# Cheap parameters: the tests check the flow, not the cost.
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_operators_and_users_sign_in_by_name_or_email(admin_store: Store) -> None:
    users = UserService(admin_store, hasher=FAST)
    project = ProjectService(admin_store).create("acme", rate_limit=1)
    users.add_operator("root", "correct horse")
    users.add_user(project.id, " Ann@Example.COM ", Role.OWNER, "battery staple")
    with admin_store.engine.connect() as conn:
        hashes = conn.execute(select(schema.operators.c.password_hash)).scalars().all()
    assert hashes[0].startswith("$argon2id$") and "correct horse" not in hashes[0]

    operator = users.sign_in("root", "correct horse")
    assert operator is not None and operator.session.operator is not None
    assert operator.session.user is None
    member = users.sign_in("ann@example.com", "battery staple")
    assert member is not None and member.session.user is not None
    assert (member.session.user.project_id, member.session.user.role) == (project.id, Role.OWNER)
    assert member.token != operator.token
    assert member.session.id == session_id(member.token) != member.token

    assert users.sign_in("root", "wrong password") is None
    assert users.sign_in("nobody", "correct horse") is None
    assert users.sign_in("ann@example.com", "correct horse") is None


def test_refusals(admin_store: Store) -> None:
    users = UserService(admin_store, hasher=FAST)
    project = ProjectService(admin_store).create("acme", rate_limit=1)
    with pytest.raises(AdminRefused, match="password: at least 8 characters"):
        users.add_operator("root", "short")
    users.add_operator("root", "long enough")
    with pytest.raises(AdminRefused, match="an operator named 'root' exists"):
        users.add_operator("root", "long enough")
    with pytest.raises(AdminRefused, match="email: 'ann' is not an email address"):
        users.add_user(project.id, "ann", Role.MEMBER, "long enough")
    users.add_user(project.id, "ann@example.com", Role.MEMBER, "long enough")
    with pytest.raises(AdminRefused, match=r"a user with email 'ann@example\.com' exists"):
        users.add_user(project.id, "ANN@example.com", Role.OWNER, "long enough")
    with pytest.raises(AdminRefused, match="no operator named 'ghost'"):
        users.remove_operator("ghost")
    with pytest.raises(AdminRefused, match=r"no user with email 'ghost@x\.io'"):
        users.remove_user("ghost@x.io")


def test_sessions_end_when_idle_signed_out_or_removed(admin_store: Store) -> None:
    clock = Clock()
    users = UserService(admin_store, hasher=FAST, idle_timeout=600, clock=clock)
    project = ProjectService(admin_store).create("acme", rate_limit=1)
    users.add_operator("root", "long enough")
    users.add_user(project.id, "ann@example.com", Role.MEMBER, "long enough")

    first = users.sign_in("root", "long enough")
    assert first is not None
    clock.now = first.session.last_seen_at + 500
    assert users.session(first.token) is not None  # touched: idle counts from now
    clock.now += 500
    assert users.session(first.token) is not None
    clock.now += 601
    assert users.session(first.token) is None
    assert admin_store.get_session(first.session.id) is None  # ended on the server

    second = users.sign_in("root", "long enough")
    assert second is not None
    clock.now = second.session.last_seen_at + TOUCH_EVERY / 2
    assert users.session(second.token) is not None
    users.sign_out(second.token)
    assert users.session(second.token) is None

    ann = users.sign_in("ann@example.com", "long enough")
    root = users.sign_in("root", "long enough")
    assert ann is not None and root is not None
    clock.now = ann.session.last_seen_at
    users.remove_user("ann@example.com")
    users.remove_operator("root")
    assert users.session(ann.token) is None and users.session(root.token) is None
    assert users.users() == [] and users.operators() == []


def test_last_seen_is_kept_on_the_user_and_written_once_a_minute(admin_store: Store) -> None:
    clock = Clock()
    users = UserService(admin_store, hasher=FAST, clock=clock)
    project = ProjectService(admin_store).create("acme", rate_limit=1)
    users.add_operator("root", "long enough")
    users.add_user(project.id, "ann@example.com", Role.MEMBER, "long enough")
    assert [u.last_seen_at for u in users.users()] == [None]

    ann, root = (
        users.sign_in("ann@example.com", "long enough"),
        users.sign_in("root", "long enough"),
    )
    assert ann is not None and root is not None
    assert users.users()[0].last_seen_at == ann.session.last_seen_at  # signing in is a sighting
    assert users.operators()[0].last_seen_at == root.session.last_seen_at
    clock.now = ann.session.last_seen_at + TOUCH_EVERY / 2
    users.session(ann.token)
    assert users.users()[0].last_seen_at == ann.session.last_seen_at  # no write per request
    clock.now = ann.session.last_seen_at + TOUCH_EVERY + 1
    users.session(ann.token)
    clock.now = root.session.last_seen_at + 2 * TOUCH_EVERY
    users.session(root.token)
    users.sign_out(ann.token)
    users.sign_out(root.token)
    assert users.users()[0].last_seen_at == ann.session.last_seen_at + TOUCH_EVERY + 1
    assert users.operators()[0].last_seen_at == root.session.last_seen_at + 2 * TOUCH_EVERY


def test_owners_manage_their_projects_users(admin_store: Store) -> None:
    clock = Clock()
    users = UserService(admin_store, hasher=FAST, clock=clock)
    projects = ProjectService(admin_store)
    acme, other = projects.create("acme", rate_limit=1), projects.create("other", rate_limit=1)
    ann = users.add_user(acme.id, "ann@example.com", Role.OWNER, "long enough")
    bob = users.add_user(acme.id, "bob@example.com", Role.MEMBER, "long enough")
    eve = users.add_user(other.id, "eve@example.com", Role.OWNER, "long enough")

    first = users.sign_in("ann@example.com", "long enough")
    later = users.sign_in("ann@example.com", "long enough")
    assert first is not None and later is not None
    users.sign_in("eve@example.com", "long enough")

    with pytest.raises(AdminRefused, match="keeps at least one owner"):
        users.set_role(acme.id, ann.id, Role.MEMBER)
    with pytest.raises(AdminRefused, match="keeps at least one owner"):
        users.remove_from_project(acme.id, ann.id)
    with pytest.raises(NotFound):
        users.set_role(acme.id, eve.id, Role.MEMBER)  # another project's user
    with pytest.raises(NotFound):
        users.remove_from_project(acme.id, eve.id)

    users.set_role(acme.id, bob.id, Role.OWNER)
    users.set_role(acme.id, ann.id, Role.MEMBER)
    assert users.session(later.token) is not None
    session = users.session(later.token)
    assert session is not None and session.user is not None
    assert session.user.role is Role.MEMBER  # the session reads the role as it is now
    users.remove_from_project(acme.id, ann.id)
    assert users.session(later.token) is None
    assert [(u.email, u.role) for u in users.users(acme.id)] == [("bob@example.com", Role.OWNER)]
    assert [u.role for u in users.users(other.id)] == [Role.OWNER]
