"""Closing final calls: the money they move. A pure function; the store writes its answer.

A call that becomes final releases its reservation and is debited its price, but never more
than it reserved when it was accepted: that was the promised maximum. Each debit is one
ledger row carrying its project's balance just after it, in the order the calls are given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FinalCharge:
    """A call becoming final: what it holds from its project, and what it was priced."""

    call_id: str
    project_id: str
    reserved_milli: int
    price_milli: int


@dataclass(frozen=True, slots=True)
class Account:
    """A project's money: its balance, and how much of it open reservations hold."""

    balance_milli: int
    reserved_milli: int


@dataclass(frozen=True, slots=True)
class Debit:
    """One ledger row: a call's price taken from its project (`amount_milli` < 0)."""

    project_id: str
    call_id: str
    amount_milli: int
    balance_after_milli: int


@dataclass(frozen=True, slots=True)
class Closing:
    """What closing a batch writes: each call's price, the accounts it changed (as they are
    after it), and the ledger's debit rows in order."""

    prices: dict[str, int]  # call id -> price debited
    accounts: dict[str, Account]  # project id -> its account after the batch
    debits: list[Debit]


def close_calls(charges: Sequence[FinalCharge], accounts: Mapping[str, Account]) -> Closing:
    """Close `charges` against `accounts` (every project they name, as it is before them)."""
    prices: dict[str, int] = {}
    after: dict[str, Account] = {}
    debits: list[Debit] = []
    for charge in charges:
        price = min(charge.price_milli, charge.reserved_milli)
        prices[charge.call_id] = price
        if not (price or charge.reserved_milli):
            continue  # nothing held, nothing taken: the account is untouched
        account = after.get(charge.project_id) or accounts[charge.project_id]
        balance = account.balance_milli - price
        after[charge.project_id] = Account(balance, account.reserved_milli - charge.reserved_milli)
        if price:
            debits.append(Debit(charge.project_id, charge.call_id, -price, balance))
    return Closing(prices, after, debits)
