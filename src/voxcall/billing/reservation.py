"""How much to hold from a balance when a call request is accepted."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from voxcall.domain.money import Tariff


def max_price(voice_duration: float, tariffs: Sequence[Tariff]) -> int:
    """The most one answered attempt playing the whole voice can cost on any of `tariffs`:
    the voice in whole seconds plus each trunk's margin, priced by that trunk.

    Only one attempt can be answered: busy and unanswered attempts cost nothing.
    """
    seconds = math.ceil(voice_duration)
    return max((tariff.price(seconds + tariff.reserve_margin) for tariff in tariffs), default=0)


def project_holds(reservations: Iterable[tuple[str, int]]) -> dict[str, int]:
    """What each project must hold for call requests accepted together, from each call's
    (project id, reservation): the sum of its calls', for each project that holds anything.
    A request is refused whole when one of these cannot be held."""
    holds: dict[str, int] = {}
    for project_id, amount in reservations:
        holds[project_id] = holds.get(project_id, 0) + amount
    return {project_id: amount for project_id, amount in holds.items() if amount}


def affordable(wanted: int, available_milli: int, each_milli: int) -> int:
    """How many of `wanted` calls that reserve `each_milli` apiece an available balance
    covers: all of them when a call costs nothing, none when the balance is overdrawn."""
    if each_milli == 0:
        return wanted
    return min(wanted, max(0, available_milli // each_milli))
