"""Campaign lists (§8): a CSV or plain-text list of numbers, read in one streaming pass.

The file is read in chunks and handed on in batches of normalised numbers, ready for a bulk
insert; what is kept between batches is the count of each skip, the first skipped lines, and
8 bytes per accepted number to find repeats. A list is not all-or-nothing: a line that is
not a callable number is skipped and counted; only a file that cannot be read as a list
(too large, too many rows, not text, a line without end) is refused as a whole.
"""

from __future__ import annotations

import codecs
import csv
import enum
import functools
import heapq
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, islice
from typing import NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

from voxcall.calls.numbers import InvalidPhoneNumber, NumberNotAllowed, PhoneNumber, PlainIranian

MAX_ROWS = 1_000_000
MAX_BYTES = 50 * 1024 * 1024
MAX_LINE = 64 * 1024  # characters: far beyond any real row, short enough to hold
BATCH_ROWS = 10_000
REJECTED_KEPT = 100
VALUE_KEPT = 100  # characters of a skipped value kept to show it
_CHUNK = 256 * 1024

# Header names of the phone column, in order of preference (§8, and what Iranian
# spreadsheets call it); compared without case, spaces, dashes or underscores.
_PHONE_HEADERS = (
    "phonenumber",
    "phone",
    "mobile",
    "number",
    "شمارهموبایل",
    "شمارهتلفن",
    "شمارههمراه",
    "موبایل",
    "تلفن",
    "همراه",
    "شماره",
)
_HEADER_NOISE = re.compile(r"[\s_\-\u200c]")  # \u200c: the Persian zero-width non-joiner
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_QUOTED = re.compile(r'"[^"]*"')
_DELIMITERS = (",", ";", "\t")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


class ListError(ValueError):
    """The file cannot be taken as a list; the message names the file or the line."""


class SkipReason(enum.StrEnum):
    INVALID = "invalid"
    NOT_ALLOWED = "notAllowed"
    DUPLICATE = "duplicate"
    DO_NOT_CALL = "doNotCall"


@dataclass(frozen=True, slots=True)
class Rejected:
    line: int
    value: str
    reason: SkipReason


class ListedNumber(NamedTuple):
    line: int  # where its row starts in the file, from 1: list order
    written: str  # the cell as the file has it
    national: str
    e164: str


class Skipped:
    """Skipped rows counted by reason, and the `keep` of them that come first in the file
    (skips may be added out of line order, e.g. do-not-call after a batch is read)."""

    def __init__(self, keep: int = REJECTED_KEPT) -> None:
        self.counts = dict.fromkeys(SkipReason, 0)
        self._keep = keep
        self._first: list[tuple[int, int, Rejected]] = []  # a max-heap on the line
        self._added = 0

    def add(self, line: int, value: str, reason: SkipReason) -> None:
        self.counts[reason] += 1
        self._added += 1
        entry = (-line, self._added, Rejected(line, value[:VALUE_KEPT], reason))
        if len(self._first) < self._keep:
            heapq.heappush(self._first, entry)
        elif line < -self._first[0][0]:
            heapq.heapreplace(self._first, entry)

    @property
    def rejected(self) -> list[Rejected]:
        return sorted((entry[2] for entry in self._first), key=lambda r: r.line)


class BinaryReadable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


class ListReader:
    """Reads one list, given as (line, phone cell) pairs: `phone_cells` of a file, or
    `enumerate(numbers, start=1)` of a JSON array. `batches()` yields its new callable
    numbers in list order; `skipped` counts the rest."""

    def __init__(
        self,
        cells: Iterable[tuple[int, str]],
        parse: Callable[[str], PhoneNumber],
        *,
        plain: Callable[[Sequence[str]], PlainIranian] | None = None,
        batch_rows: int = BATCH_ROWS,
        max_rows: int = MAX_ROWS,
    ) -> None:
        """`plain`, when given, decides the numbers of a batch of cells that `parse`
        would accept, at once; `parse` takes each of the others."""
        self._cells = cells
        self._parse = parse
        self._plain = plain
        self._batch_rows = batch_rows
        self._max_rows = max_rows
        self.skipped = Skipped()
        self.rows = 0  # data rows read (blank lines and the header are not rows)
        self.accepted = 0  # numbers handed on and not skipped since

    def batches(self) -> Iterator[list[ListedNumber]]:
        seen = _SeenNumbers()
        pending: list[ListedNumber] = []
        keys: list[int] = []  # each pending number's E.164 digits, to find repeats
        for cells in self._row_batches():
            numbers, numbers_keys = self._parsed(cells)
            pending += numbers
            keys += numbers_keys
            while len(pending) >= self._batch_rows:
                size = self._batch_rows
                if kept := self._first_seen(pending[:size], keys[:size], seen):
                    yield kept
                pending, keys = pending[size:], keys[size:]
        if kept := self._first_seen(pending, keys, seen):
            yield kept

    def skip(self, row: ListedNumber, reason: SkipReason) -> None:
        """Skips a number already handed on, for a reason found by the caller (it is on a
        do-not-call list)."""
        self.skipped.add(row.line, row.written, reason)
        self.accepted -= 1

    def _row_batches(self) -> Iterator[list[tuple[int, str]]]:
        """The cells a batch of rows at a time, counted against the limit as they are read
        (never more than one row past it)."""
        cells = iter(self._cells)
        while batch := list(islice(cells, min(self._batch_rows, self._max_rows - self.rows + 1))):
            if self.rows + len(batch) > self._max_rows:
                line = batch[self._max_rows - self.rows][0]
                raise ListError(f"file: more than {self._max_rows:,} rows (line {line})")
            self.rows += len(batch)
            yield batch

    def _parsed(self, cells: list[tuple[int, str]]) -> tuple[list[ListedNumber], list[int]]:
        """The callable numbers of `cells` in order, with their E.164 digits; the others
        are counted as skipped."""
        lines, values = zip(*cells, strict=True)
        if self._plain is not None:
            plain = self._plain(values)
            at, national, e164 = plain.at, [*plain.national], [*plain.e164]
            key: list[int] = plain.key.tolist()
        else:
            at, national, e164, key = np.empty(0, dtype=np.intp), [], [], []
        undecided = np.ones(len(cells), dtype=np.bool_)
        undecided[at] = False
        parsed: list[int] = []  # where `parse` took a number
        for i in np.flatnonzero(undecided).tolist():
            line, value = cells[i]
            try:
                number = self._parse(value)
            except NumberNotAllowed:
                self.skipped.add(line, value, SkipReason.NOT_ALLOWED)
                continue
            except InvalidPhoneNumber:
                self.skipped.add(line, value, SkipReason.INVALID)
                continue
            parsed.append(i)
            national.append(number.national)
            e164.append(number.e164)
            key.append(int(number.e164[1:]))
        if parsed:  # back into list order
            places = np.concatenate((at, np.array(parsed, dtype=np.intp)))
            order = np.argsort(places, kind="stable")
            at = places[order]
            national, e164, key = (
                np.array(column, dtype=object)[order].tolist() for column in (national, e164, key)
            )
        rows = zip(
            np.array(lines)[at].tolist(),
            np.array(values, dtype=object)[at].tolist(),
            national,
            e164,
            strict=True,
        )
        return list(map(_LISTED, rows)), key

    def _first_seen(
        self, batch: list[ListedNumber], keys: list[int], seen: _SeenNumbers
    ) -> list[ListedNumber]:
        if not batch:
            return []
        fresh = seen.first_seen(np.array(keys, dtype=np.int64))
        if fresh.all():  # as in most lists: no repeat
            self.accepted += len(batch)
            return batch
        kept = []
        for row, is_fresh in zip(batch, fresh.tolist(), strict=True):
            if is_fresh:
                kept.append(row)
            else:
                self.skipped.add(row.line, row.written, SkipReason.DUPLICATE)
        self.accepted += len(kept)
        return kept


# ListedNumber._make without its Python frame: a million rows a list
_LISTED = functools.partial(tuple.__new__, ListedNumber)


def phone_cells(stream: BinaryReadable, *, max_bytes: int = MAX_BYTES) -> Iterator[tuple[int, str]]:
    """(line, phone cell) of each data row of a list file, the header and blank rows left
    out; ListError when the file cannot be read as a list."""
    lines = _lines(stream, max_bytes)
    blank = 0
    for first in lines:
        if first.strip():
            break
        blank += 1
    else:
        return
    rows = csv.reader(chain([first], lines), delimiter=_sniff_delimiter(first))
    consumed = blank  # lines read before the next row
    column = 0
    try:
        for row in rows:  # up to the first row that is not blank: a header, or a number
            line, consumed = consumed + 1, blank + rows.line_num
            if any(cell.strip() for cell in row):
                header = _header_column(row)
                if header is None:
                    yield line, row[0].strip()
                else:
                    column = header
                break
        for row in rows:
            line, consumed = consumed + 1, blank + rows.line_num
            value = row[column].strip() if column < len(row) else ""
            if value or any(cell.strip() for cell in row):
                yield line, value
    except csv.Error as exc:
        raise ListError(f"file: line {consumed + 1}: {_csv_problem(exc)}") from exc


def _lines(stream: BinaryReadable, max_bytes: int) -> Iterator[str]:
    """The text lines of `stream` (CRLF, CR or LF), each ending in "\\n"; the encoding is
    UTF-8 unless a byte order mark says UTF-16."""
    chunks = _chunks(stream, max_bytes)
    head = b""
    for piece in chunks:  # a stream may answer a few bytes at a time
        head += piece
        if len(head) >= len(codecs.BOM_UTF8):
            break
    encoding = "utf-8"
    for bom, named in _BOMS:
        if head.startswith(bom):
            encoding, head = named, head[len(bom) :]
            break
    decoder = codecs.getincrementaldecoder(encoding)()
    count = 0  # lines handed on
    pending = ""
    for chunk in chain([head], chunks, [None]):  # None: the end of the file
        final = chunk is None
        try:
            text = pending + decoder.decode(chunk or b"", final=final)
        except UnicodeDecodeError as exc:
            before = pending + exc.object[: exc.start].decode(encoding, errors="replace")
            line = count + len(_LINE_BREAK.split(before))
            problem = f"not {encoding.upper()} text ({exc.reason})"
            raise ListError(f"file: line {line}: {problem}") from exc
        # a CR at the end may be the first half of a CRLF: keep it for the next chunk
        held = "" if final or not text.endswith("\r") else "\r"
        if held:
            text = text[:-1]
        parts = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        pending = parts.pop() + held
        longest = max(len(pending), max(map(len, parts), default=0))
        if longest > MAX_LINE or "\x00" in text:
            _refuse_unreadable([*parts, pending], count + 1)
        count += len(parts)
        for part in parts:
            yield part + "\n"
    if pending:
        yield pending + "\n"


def _chunks(stream: BinaryReadable, max_bytes: int) -> Iterator[bytes]:
    size = 0
    while chunk := stream.read(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise ListError(f"file: larger than {max_bytes / (1024 * 1024):g} MiB")
        yield chunk


def _refuse_unreadable(lines: list[str], first: int) -> None:
    """Refuses a line the list cannot be: one without end (or all of a file on one line),
    or one holding NUL characters, as UTF-16 read as UTF-8 does."""
    for line, text in enumerate(lines, start=first):
        if len(text) > MAX_LINE:
            raise ListError(f"file: line {line}: longer than {MAX_LINE:,} characters")
        if "\x00" in text:
            raise ListError(
                f"file: line {line}: holds a NUL character (UTF-16 text needs its byte order mark)"
            )


def _sniff_delimiter(line: str) -> str:
    """The separator of a CSV row (comma, or what Excel writes in other locales: semicolon,
    tab); a plain list of numbers has none, and reads as one column either way."""
    bare = _QUOTED.sub("", line)
    return max(_DELIMITERS, key=bare.count)


def _header_column(row: list[str]) -> int | None:
    """The phone column if `row` is a header line, else None. A row is a header when it
    names the phone column, or when it holds no digit at all (then the first column)."""
    names = [_HEADER_NOISE.sub("", cell).casefold() for cell in row]
    for wanted in _PHONE_HEADERS:
        if wanted in names:
            return names.index(wanted)
    if not any(c.isdecimal() for cell in row for c in cell):
        return 0
    return None


def _csv_problem(exc: csv.Error) -> str:
    if "field limit" in str(exc):
        return "a quoted field does not end"
    return str(exc)


class _SeenNumbers:
    """The numbers accepted so far, as 64-bit integers in sorted runs; a new run merges
    with the ones no longer than it, so there are O(log n) runs to search."""

    def __init__(self) -> None:
        self._runs: list[npt.NDArray[np.int64]] = []

    def first_seen(self, numbers: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """For each number, whether it is its first appearance (in `numbers` or before)."""
        unique, first = np.unique(numbers, return_index=True)
        known = np.zeros(len(unique), dtype=np.bool_)
        for run in self._runs:
            at = np.minimum(np.searchsorted(run, unique), len(run) - 1)
            known |= run[at] == unique
        fresh = np.zeros(len(numbers), dtype=np.bool_)
        fresh[first[~known]] = True
        self._add(unique[~known])
        return fresh

    def _add(self, run: npt.NDArray[np.int64]) -> None:
        if not len(run):
            return
        self._runs.append(run)
        while len(self._runs) > 1 and len(self._runs[-2]) <= len(self._runs[-1]):
            newer = self._runs.pop()
            merged = np.concatenate((self._runs.pop(), newer))
            merged.sort()
            self._runs.append(merged)
