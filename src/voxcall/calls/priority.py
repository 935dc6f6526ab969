"""Which waiting calls go next (§10): classes in strict order, then fair shares.

One-time codes go before single calls, single calls before batches, batches before campaign
calls. Within a class, projects take turns one call at a time, and within a project its
lists (batches, campaigns) take turns, so a project with a million queued calls delays
another project's call by one turn, not a million. A campaign's `maxChannels` and
`callsPerMinute` cap how many of its calls go. Turns carry over from one choice to the
next, so the rotation goes on where it stopped.
"""

from __future__ import annotations

import enum
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


class CallClass(enum.IntEnum):
    ONE_TIME_CODE = 0
    SINGLE = 1  # single and TTS calls
    BATCH = 2
    CAMPAIGN = 3


@dataclass(frozen=True, slots=True)
class Queue:
    """The calls of one project (and one of its lists, for batches and campaigns) that may
    start now, with what the campaign's own limits leave room for."""

    call_class: CallClass
    project: str
    campaign: str | None
    ready: int
    running: int = 0  # the campaign's calls in progress
    started_last_minute: int = 0
    max_channels: int | None = None
    calls_per_minute: int | None = None

    @property
    def allowance(self) -> int:
        """How many of its calls may go now."""
        room = [self.ready]
        if self.max_channels is not None:
            room.append(self.max_channels - self.running)
        if self.calls_per_minute is not None:
            room.append(self.calls_per_minute - self.started_last_minute)
        return max(0, min(room))


@dataclass(frozen=True, slots=True)
class Turns:
    """Who was served last: the project in each class, and the list in each project."""

    projects: Mapping[CallClass, str] = field(default_factory=dict)
    lists: Mapping[tuple[CallClass, str], str] = field(default_factory=dict)


def choose(queues: Sequence[Queue], slots: int, turns: Turns) -> tuple[list[Queue], Turns]:
    """Up to `slots` calls to start, as the queue of each (a queue once per call), and the
    turns to give the next choice."""
    keys = [(queue.call_class, queue.project, queue.campaign) for queue in queues]
    if len(set(keys)) != len(keys):
        raise ValueError("one queue per class, project and list")
    waiting = {(queue.call_class, queue.project) for queue in queues}
    project_turns = dict(turns.projects)
    # the turns of projects with nothing waiting go: a list that ended stays out of them
    list_turns = {key: last for key, last in turns.lists.items() if key in waiting}
    picks: list[Queue] = []
    for call_class in CallClass:
        rotation = _Rotation(
            call_class,
            [queue for queue in queues if queue.call_class == call_class],
            project_turns,
            list_turns,
        )
        while len(picks) < slots and (queue := rotation.next()) is not None:
            picks.append(queue)
    return picks, Turns(project_turns, list_turns)


def _list_key(queue: Queue) -> str:
    return queue.campaign or ""


def _after(names: list[str], last: str | None) -> int:
    """The index of the first of the sorted `names` after `last`, round the end."""
    return 0 if last is None else bisect_right(names, last) % len(names)


class _Rotation:
    """The turns of one class: projects in order of id, each project's lists in order of
    id, each turn the next after the one served last; updates the turns it is given."""

    def __init__(
        self,
        call_class: CallClass,
        queues: list[Queue],
        project_turns: dict[CallClass, str],
        list_turns: dict[tuple[CallClass, str], str],
    ) -> None:
        self._class = call_class
        self._left = {id(queue): queue.allowance for queue in queues}
        self._lists: dict[str, list[Queue]] = {}
        for queue in sorted(queues, key=_list_key):
            if self._left[id(queue)] > 0:
                self._lists.setdefault(queue.project, []).append(queue)
        self._projects = sorted(self._lists)
        self._project_turns = project_turns
        self._list_turns = list_turns

    def next(self) -> Queue | None:
        if not self._projects:
            return None
        at = _after(self._projects, self._project_turns.get(self._class))
        project = self._projects[at]
        lists = self._lists[project]
        last = self._list_turns.get((self._class, project))
        turn = _after([_list_key(each) for each in lists], last)
        queue = lists[turn]
        self._project_turns[self._class] = project
        self._list_turns[(self._class, project)] = _list_key(queue)
        self._left[id(queue)] -= 1
        if self._left[id(queue)] == 0:
            del lists[turn]
            if not lists:
                del self._projects[at], self._lists[project]
        return queue
