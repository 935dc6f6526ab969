"""How many claim times fall in the busiest window of a given length, wherever it starts."""

from __future__ import annotations

from collections.abc import Iterable


def most_in_any_window(times: Iterable[float], length: float = 1.0) -> int:
    """The largest number of `times` inside one half-open window [s, s + length). The
    busiest window can always be moved right until it starts at one of the times."""
    ordered = sorted(times)
    most = 0
    end = 0
    for start, moment in enumerate(ordered):
        end = max(end, start)
        while end < len(ordered) and ordered[end] < moment + length:
            end += 1
        most = max(most, end - start)
    return most
