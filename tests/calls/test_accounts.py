"""AccountService: the balance, top-ups and the statement, on each backend."""

from __future__ import annotations

import dataclasses

import pytest

from voxcall.calls.accounts import AccountService, check_top_up
from voxcall.calls.errors import NotFound
from voxcall.calls.projects import ProjectService
from voxcall.store.store import Store


def test_top_ups_make_the_statement_and_the_balance(admin_store: Store) -> None:
    accounts = AccountService(admin_store)
    project = ProjectService(admin_store).create("acme", rate_limit=1, opening_milli=1_000)
    first = accounts.top_up(project, 2_500, note="gift")
    second = accounts.top_up(project, 500, note="x" * 300)
    assert (first.balance_after_milli, second.balance_after_milli) == (3_500, 4_000)
    assert second.note == "x" * 200  # the ledger keeps 200 characters of a note
    entries, current = accounts.statement(project)
    assert [e.amount_milli for e in entries] == [500, 2_500, 1_000]  # newest first
    assert current == accounts.balance(project)
    assert (current.balance_milli, current.reserved_milli, current.available_milli) == (
        4_000,
        0,
        4_000,
    )
    with pytest.raises(ValueError, match="a top-up must be positive"):
        accounts.top_up(project, 0, note="nothing")


def test_the_balance_of_a_project_that_is_gone_is_not_found(admin_store: Store) -> None:
    project = ProjectService(admin_store).create("acme", rate_limit=1)
    gone = dataclasses.replace(project, id="0" * 32)
    with pytest.raises(NotFound) as refused:
        AccountService(admin_store).balance(gone)
    assert refused.value.message == "project: no longer exists"


@pytest.mark.parametrize(("amount", "allowed"), [(1, True), (0, False), (-500, False)])
def test_a_top_up_is_a_positive_amount(amount: int, allowed: bool) -> None:
    if allowed:
        check_top_up(amount)
    else:
        with pytest.raises(ValueError, match=r"^amount: a top-up must be positive$"):
            check_top_up(amount)
