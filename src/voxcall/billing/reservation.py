"""How much to hold from a balance when a call request is accepted."""

from __future__ import annotations

import math
from collections.abc import Sequence

from voxcall.billing.money import Tariff

# billSec runs from the 200 OK to the BYE: signalling can add a little to the voice itself.
SIGNALLING_SLACK_SECONDS = 1


def max_bill_sec(voice_duration: float) -> int:
    return math.ceil(voice_duration) + SIGNALLING_SLACK_SECONDS


def max_price(voice_duration: float, tariffs: Sequence[Tariff]) -> int:
    """The most one answered attempt playing the whole voice can cost on any of `tariffs`.

    Only one attempt can be answered: busy and unanswered attempts cost nothing.
    """
    bill_sec = max_bill_sec(voice_duration)
    return max((tariff.price(bill_sec) for tariff in tariffs), default=0)
