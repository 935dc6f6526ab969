"""Do-not-call lists as the API and the CLI use them (api.md §9): add, look up, page and
remove numbers of a project's list or of the operator's (`project` None), and the check
that refuses calls to a listed number (which lists apply, and the refusal; `CallService.place`
has the store run it inside the write of the calls). Numbers are matched in E.164
(calls/dnc.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence, Set
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from voxcall.calls.dnc import DncScope, dnc_key, dnc_number, scopes_checked
from voxcall.calls.errors import (
    DoNotCall,
    FileTooLarge,
    InvalidList,
    InvalidPhoneNumberError,
    NotFound,
)
from voxcall.calls.lists import (
    MAX_BYTES,
    BinaryReadable,
    ListError,
    ListReader,
    ListTooLarge,
    SkipReason,
    phone_cells,
)
from voxcall.calls.numbers import InvalidPhoneNumber, PhoneNumber, parse_phone, plain_iranian
from voxcall.domain.projects import Project
from voxcall.store.dnc import DncCheck, DoNotCallLists


@dataclass(frozen=True, slots=True)
class DncAdded:
    added: int
    already_listed: int
    invalid: int


@dataclass(frozen=True, slots=True)
class DncEntry:
    phone_number: str  # national form for the project's region, else E.164
    listed: bool
    added_at: int | None


class DncService:
    def __init__(self, store: DoNotCallLists) -> None:
        self.store = store

    def add(self, project: Project | None, raw_numbers: Sequence[str]) -> DncAdded:
        """List every valid number (any country); repeats and listed ones count once."""
        keys = []
        invalid = 0
        for raw in raw_numbers:
            try:
                keys.append(dnc_key(raw))
            except InvalidPhoneNumber:
                invalid += 1
        distinct = len(set(keys))
        added = self.store.add_dnc(_scope(project), keys, int(time.time()))
        return DncAdded(added, distinct - added, invalid)

    def add_file(
        self, project: Project | None, stream: BinaryReadable, *, max_bytes: int = MAX_BYTES
    ) -> DncAdded:
        """List every valid number of a list file, read as a campaign's (api.md §8, §9):
        the file is read whole first, keeping 8 bytes a number, so that the write lock is
        held only to store them, in one transaction. InvalidList names what is wrong with
        a file that cannot be read as a list, or that holds no number."""
        cells = phone_cells(stream, max_bytes=max_bytes)
        reader = ListReader(cells, dnc_number, plain=plain_iranian)
        try:
            numbers = [batch.keys for batch in reader.numbers()]
        except ListTooLarge as exc:
            raise FileTooLarge(str(exc)) from exc
        except ListError as exc:
            raise InvalidList(str(exc)) from exc
        if reader.rows == 0:
            raise InvalidList("file: the list holds no number")
        added = self.store.add_dnc_batches(_scope(project), _unpacked(numbers), int(time.time()))
        invalid = reader.skipped.counts[SkipReason.INVALID]
        return DncAdded(added, reader.accepted - added, invalid)

    def lookup(self, project: Project | None, raw: str) -> DncEntry:
        key = _key(raw)
        added_at = self.store.dnc_entry(_scope(project), key)
        return DncEntry(display(key), added_at is not None, added_at)

    def page(self, project: Project | None, *, after: str | None, limit: int) -> list[DncEntry]:
        """The list in E.164 order; `after`: the last number of the previous page."""
        entries = self.store.dnc_page(
            _scope(project), after=None if after is None else _key(after, "after"), limit=limit
        )
        return [DncEntry(display(e164), True, added_at) for e164, added_at in entries]

    def remove(self, project: Project | None, raw: str) -> None:
        if not self.store.remove_dnc(_scope(project), _key(raw)):
            raise NotFound("phoneNumber: not listed")

    def refuse_listed(
        self, project: Project, numbers: Sequence[PhoneNumber], *, one_time_code: bool, batch: bool
    ) -> None:
        """DoNotCall naming the first listed number (its index in a batch)."""
        check = dnc_check(project, numbers, one_time_code=one_time_code)
        listed = self.store.listed_numbers(
            project.id, check.e164s, project_list=check.project_id is not None
        )
        if listed:
            raise do_not_call(numbers, listed, batch=batch)


def dnc_check(project: Project, numbers: Sequence[PhoneNumber], *, one_time_code: bool) -> DncCheck:
    """The numbers of calls to be refused if listed, and the lists they are checked against
    (`scopes_checked`)."""
    scopes = scopes_checked(one_time_code=one_time_code)
    return DncCheck({n.e164 for n in numbers}, project.id if DncScope.PROJECT in scopes else None)


def do_not_call(numbers: Sequence[PhoneNumber], listed: Set[str], *, batch: bool) -> DoNotCall:
    """The refusal naming the first of `numbers` that is `listed` (its index in a batch)."""
    index, number = next((i, n) for i, n in enumerate(numbers) if n.e164 in listed)
    field = f"phoneNumbers[{index}]" if batch else "phoneNumber"
    return DoNotCall(f"{field}: {number.national} is on a do-not-call list")


def display(e164: str) -> str:
    """An Iranian number in national form (api.md §1), another country's in E.164."""
    if e164.startswith("+98"):
        return parse_phone(e164).national
    return e164


def _unpacked(keys: list[npt.NDArray[np.int64]]) -> Iterator[list[str]]:
    """Batches of numbers in E.164 from their digits as integers (ListNumbers.keys)."""
    for batch in keys:
        yield [f"+{digits}" for digits in batch.tolist()]


def _key(raw: str, field: str = "phoneNumber") -> str:
    try:
        return dnc_key(raw)
    except InvalidPhoneNumber as exc:
        raise InvalidPhoneNumberError(f"{field}: {exc}") from exc


def _scope(project: Project | None) -> str | None:
    return None if project is None else project.id
