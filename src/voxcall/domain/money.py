"""Money values: a trunk's tariff and a row of a project's ledger, in milli-Toman."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Tariff:
    price_per_minute: int  # milli-Toman per 60 s
    billing_increment: int = 60  # seconds
    connect_fee: int = 0  # milli-Toman per answered call
    # Reserved, never billed: the billSec a call may run past its voice on this trunk
    # (signalling between the 200 OK and the BYE); the operator's margin of api.md §5.
    reserve_margin: int = 1  # seconds

    def price(self, bill_sec: int) -> int:
        """What an answered call of `bill_sec` costs: at least one increment, rounded up to
        whole increments, and to a whole milli-Toman."""
        increments = max(1, math.ceil(bill_sec / self.billing_increment))
        seconds = increments * self.billing_increment
        return self.connect_fee + -(-seconds * self.price_per_minute // 60)


FREE = Tariff(price_per_minute=0)


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    id: str
    kind: str  # topup | debit | adjustment
    amount_milli: int
    balance_after_milli: int
    call_id: str | None
    note: str
    created_at: float
