"""ProjectService: projects, their tokens and their webhook, on each backend."""

from __future__ import annotations

import pytest

from voxcall.calls.dialers import new_dialer
from voxcall.calls.errors import AdminRefused
from voxcall.calls.projects import ProjectService
from voxcall.store.store import Store
from voxcall.tokens import hash_token


def test_a_project_is_created_once_with_its_opening_balance(admin_store: Store) -> None:
    store = admin_store
    projects = ProjectService(store)
    project = projects.create("acme", rate_limit=7, opening_milli=12_500)
    assert (project.name, project.rate_limit, project.allowed_regions) == ("acme", 7, ("IR",))
    assert projects.named("acme").balance_milli == 12_500
    (entry,) = store.statement(project.id)
    assert (entry.kind, entry.amount_milli, entry.note) == ("topup", 12_500, "opening balance")
    assert store.statement(projects.create("beta", rate_limit=1).id) == []  # nothing to credit
    with pytest.raises(AdminRefused) as refused:
        projects.create("acme", rate_limit=1)
    assert refused.value.message == "a project named 'acme' exists"
    assert [p.name for p in projects.list()] == ["acme", "beta"]


def test_a_negative_opening_balance_creates_no_project(admin_store: Store) -> None:
    projects = ProjectService(admin_store)
    with pytest.raises(ValueError, match=r"^amount: a top-up must be positive$"):
        projects.create("acme", rate_limit=1, opening_milli=-1)
    assert projects.find("acme") is None


def test_an_unknown_name_is_refused(admin_store: Store) -> None:
    store = admin_store
    projects = ProjectService(store)
    assert projects.find("nobody") is None
    with pytest.raises(AdminRefused) as refused:
        projects.named("nobody")
    assert refused.value.message == "no project named 'nobody'"


def test_update_checks_the_dialer_and_clears_it_with_an_empty_name(admin_store: Store) -> None:
    store = admin_store
    projects = ProjectService(store)
    project = projects.create("acme", rate_limit=7)
    with pytest.raises(AdminRefused) as refused:
        projects.update(project, default_dialer="nope")
    assert refused.value.message == "no dialer 'nope'"
    store.add_dialer(new_dialer("d1", "sandbox", "D1", {}))
    projects.update(project, default_dialer="d1", allowed_regions=["IR", "AE"], storage_quota=1)
    updated = projects.named("acme")
    assert (updated.default_dialer_id, updated.allowed_regions) == ("d1", ("IR", "AE"))
    assert (updated.rate_limit, updated.storage_quota) == (7, 1)  # what is not given is kept
    projects.update(project, default_dialer="")
    assert projects.named("acme").default_dialer_id is None


def test_tokens_are_revoked_by_an_unshared_prefix_or_whole(admin_store: Store) -> None:
    store = admin_store
    projects = ProjectService(store)
    acme, other = projects.create("acme", rate_limit=1), projects.create("other", rate_limit=1)
    issued = projects.issue_token(acme)
    assert store.project_for_token(hash_token(issued)) == projects.named("acme")
    shared = {"vx_abcdefgh-first": acme, "vx_abcdefgh-second": other}
    for token, project in shared.items():
        store.add_token(project.id, prefix="abcdefgh", token_hash=hash_token(token))

    with pytest.raises(AdminRefused) as refused:
        projects.revoke_token("vx_abcdefg")
    assert refused.value.message == "give at least the first 8 characters after 'vx_'"
    with pytest.raises(AdminRefused) as refused:
        projects.revoke_token("abcdefgh")
    assert refused.value.message == (
        "'abcdefgh' starts more than one live token; nothing was revoked: give the whole token"
    )
    with pytest.raises(AdminRefused) as refused:
        projects.revoke_token("vx_abcdefgh-third")
    assert refused.value.message == "no live token is 'vx_abcdefgh-third'"
    projects.revoke_token("vx_abcdefgh-first")
    assert store.project_for_token(hash_token("vx_abcdefgh-first")) is None
    projects.revoke_token("abcdefgh")  # now the prefix names one token
    assert store.project_for_token(hash_token("vx_abcdefgh-second")) is None
    with pytest.raises(AdminRefused) as refused:
        projects.revoke_token("abcdefgh")
    assert refused.value.message == "no live token starts with 'abcdefgh'"
    assert store.project_for_token(hash_token(issued)) is not None  # untouched throughout


def test_a_webhook_gets_a_new_secret_each_time_it_is_set(admin_store: Store) -> None:
    store = admin_store
    projects = ProjectService(store)
    project = projects.create("acme", rate_limit=1)
    first = projects.set_webhook(project, "https://example.com/hook")
    second = projects.set_webhook(project, "https://example.com/hook")
    assert first.startswith("whsec_") and second.startswith("whsec_") and first != second
    assert projects.named("acme").webhook_url == "https://example.com/hook"
    projects.clear_webhook(project)
    assert projects.named("acme").webhook_url is None
