"""How much to hold from a balance when a call request is accepted."""

from __future__ import annotations

import math
from collections.abc import Sequence

from voxcall.domain.money import Tariff


def max_price(voice_duration: float, tariffs: Sequence[Tariff]) -> int:
    """The most one answered attempt playing the whole voice can cost on any of `tariffs`:
    the voice in whole seconds plus each trunk's margin, priced by that trunk.

    Only one attempt can be answered: busy and unanswered attempts cost nothing.
    """
    seconds = math.ceil(voice_duration)
    return max((tariff.price(seconds + tariff.reserve_margin) for tariff in tariffs), default=0)
