from hypothesis import given
from hypothesis import strategies as st

from voxcall.billing.ledger import Account, Closing, Debit, FinalCharge, close_calls


def test_a_price_is_debited_and_the_reservation_released() -> None:
    closing = close_calls(
        [FinalCharge("c1", "p1", reserved_milli=900, price_milli=300)],
        {"p1": Account(balance_milli=5_000, reserved_milli=2_000)},
    )
    assert closing == Closing(
        prices={"c1": 300},
        accounts={"p1": Account(4_700, 1_100)},
        debits=[Debit("p1", "c1", -300, 4_700)],
    )


def test_a_price_is_never_more_than_the_reservation() -> None:
    closing = close_calls(
        [FinalCharge("c1", "p1", reserved_milli=900, price_milli=1_200)],
        {"p1": Account(5_000, 900)},
    )
    assert closing.prices == {"c1": 900}
    assert closing.accounts == {"p1": Account(4_100, 0)}
    assert closing.debits == [Debit("p1", "c1", -900, 4_100)]


def test_an_unpriced_call_releases_its_reservation_and_writes_no_ledger_row() -> None:
    closing = close_calls([FinalCharge("c1", "p1", 900, 0)], {"p1": Account(5_000, 900)})
    assert closing == Closing({"c1": 0}, {"p1": Account(5_000, 0)}, [])


def test_a_call_that_holds_nothing_leaves_its_project_alone() -> None:
    # e.g. a call accepted on a free dialer: its project need not even be given
    assert close_calls([FinalCharge("c1", "p1", 0, 0)], {}) == Closing({"c1": 0}, {}, [])


def test_running_balances_follow_the_order_of_the_calls_per_project() -> None:
    closing = close_calls(
        [
            FinalCharge("c1", "p1", 500, 100),
            FinalCharge("c2", "p2", 500, 200),
            FinalCharge("c3", "p1", 500, 0),
            FinalCharge("c4", "p1", 500, 300),
        ],
        {"p1": Account(1_000, 1_500), "p2": Account(700, 500)},
    )
    assert closing.debits == [
        Debit("p1", "c1", -100, 900),
        Debit("p2", "c2", -200, 500),
        Debit("p1", "c4", -300, 600),
    ]
    assert closing.accounts == {"p1": Account(600, 0), "p2": Account(500, 0)}


PROJECTS = ("p1", "p2", "p3")
charges = st.lists(
    st.builds(
        FinalCharge,
        call_id=st.uuids().map(str),
        project_id=st.sampled_from(PROJECTS),
        reserved_milli=st.integers(0, 10_000),
        price_milli=st.integers(0, 12_000),
    ),
    max_size=20,
)


@given(charges)
def test_money_is_neither_created_nor_lost(batch: list[FinalCharge]) -> None:
    # As at acceptance: each project reserved what its calls hold, and its balance covers it.
    held = {p: sum(c.reserved_milli for c in batch if c.project_id == p) for p in PROJECTS}
    before = {p: Account(held[p] + 1, held[p]) for p in PROJECTS}
    closing = close_calls(batch, before)
    assert all(closing.prices[c.call_id] <= c.reserved_milli for c in batch)
    for project, account in closing.accounts.items():
        mine = [c for c in batch if c.project_id == project]
        paid = sum(closing.prices[c.call_id] for c in mine)
        old = before[project]
        assert account.balance_milli == old.balance_milli - paid
        assert account.reserved_milli == old.reserved_milli - sum(c.reserved_milli for c in mine)
        assert account.reserved_milli == 0 and account.balance_milli >= 1
        rows = [d for d in closing.debits if d.project_id == project]
        assert -sum(d.amount_milli for d in rows) == paid
        assert all(d.amount_milli < 0 for d in rows)
        balance = old.balance_milli
        for row in rows:  # each row's balance is the one before it less its amount
            balance += row.amount_milli
            assert row.balance_after_milli == balance
