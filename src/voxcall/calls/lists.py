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


class ListTooLarge(ListError):
    """The file is larger than a list may be: the request is too large (413), not invalid."""


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


@dataclass(frozen=True, slots=True)
class ListNumbers:
    """A batch of a list's callable numbers in list order, a column each: no Python object
    a number, so that a list of a million is handed on in C."""

    lines: npt.NDArray[np.int64]
    written: npt.NDArray[np.object_]  # the cells as the file has them (str)
    national: npt.NDArray[np.str_]
    e164: npt.NDArray[np.str_]
    keys: npt.NDArray[np.int64]  # the E.164 digits as an integer, to find repeats

    def __len__(self) -> int:
        return len(self.lines)

    def take(self, which: npt.NDArray[np.bool_] | npt.NDArray[np.intp]) -> ListNumbers:
        return ListNumbers(
            self.lines[which],
            self.written[which],
            self.national[which],
            self.e164[which],
            self.keys[which],
        )

    def rows(self) -> list[ListedNumber]:
        columns = (self.lines, self.written, self.national, self.e164)
        return list(map(_LISTED, zip(*(column.tolist() for column in columns), strict=True)))


class ListReader:
    """Reads one list, given as (line, phone cell) pairs: `phone_cells` of a file, or
    `enumerate(numbers, start=1)` of a JSON array. `numbers()` yields its new callable
    numbers in list order a batch at a time (`batches()` the same as rows); `skipped`
    counts the rest."""

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

    def numbers(self) -> Iterator[ListNumbers]:
        """The list's numbers not seen before in it, a batch of at most `batch_rows` at a
        time (none empty)."""
        seen = _SeenNumbers()
        for cells in self._row_batches():
            numbers = self._parsed(cells)
            self.accepted += len(numbers)
            fresh = seen.first_seen(numbers.keys)
            if not fresh.all():  # as in most lists: no repeat
                numbers = self.skip_numbers(numbers, ~fresh, SkipReason.DUPLICATE)
            if len(numbers):
                yield numbers

    def batches(self) -> Iterator[list[ListedNumber]]:
        return (numbers.rows() for numbers in self.numbers())

    def skip(self, row: ListedNumber, reason: SkipReason) -> None:
        """Skips a number already handed on, for a reason found by the caller (it is on a
        do-not-call list)."""
        self.skipped.add(row.line, row.written, reason)
        self.accepted -= 1

    def skip_numbers(
        self, numbers: ListNumbers, which: npt.NDArray[np.bool_], reason: SkipReason
    ) -> ListNumbers:
        """Skips `which` of a batch already handed on; the batch's other numbers."""
        for line, written in zip(
            numbers.lines[which].tolist(), numbers.written[which].tolist(), strict=True
        ):
            self.skipped.add(line, written, reason)
        self.accepted -= int(which.sum())
        return numbers.take(~which)

    def _row_batches(self) -> Iterator[Cells]:
        """The cells a batch of at most `batch_rows` at a time, counted against the limit
        as they are read."""
        size = self._batch_rows
        for cells in self._columns():
            for at in range(0, len(cells.values), size):
                lines, values = cells.lines[at : at + size], cells.values[at : at + size]
                if self.rows + len(values) > self._max_rows:
                    line = lines[self._max_rows - self.rows]
                    raise ListError(f"file: more than {self._max_rows:,} rows (line {line})")
                self.rows += len(values)
                yield Cells(lines, values)

    def _columns(self) -> Iterator[Cells]:
        if isinstance(self._cells, PhoneCells):
            yield from self._cells.columns()
            return
        pairs = iter(self._cells)  # never more than one row past the limit
        while batch := list(islice(pairs, min(self._batch_rows, self._max_rows - self.rows + 1))):
            lines, values = zip(*batch, strict=True)
            yield _cells(lines, list(values))

    def _parsed(self, cells: Cells) -> ListNumbers:
        """The callable numbers of `cells` in order; the others are counted as skipped."""
        lines, values = cells
        if self._plain is not None:
            plain = self._plain(values)
            at, national, e164, keys = plain.at, plain.national, plain.e164, plain.key
        else:
            at, national, e164 = np.empty(0, dtype=np.intp), np.empty(0, "U1"), np.empty(0, "U1")
            keys = np.empty(0, dtype=np.int64)
        undecided = np.ones(len(values), dtype=np.bool_)
        undecided[at] = False
        parsed: list[tuple[int, PhoneNumber]] = []  # where `parse` took a number, and it
        for i in np.flatnonzero(undecided).tolist():
            line, value = int(lines[i]), values[i]
            try:
                parsed.append((i, self._parse(value)))
            except NumberNotAllowed:
                self.skipped.add(line, value, SkipReason.NOT_ALLOWED)
            except InvalidPhoneNumber:
                self.skipped.add(line, value, SkipReason.INVALID)
        if parsed:  # with the batch's plain numbers, in list order
            places = np.concatenate((at, np.array([i for i, _ in parsed], dtype=np.intp)))
            order = np.argsort(places, kind="stable")
            at = places[order]
            national = np.concatenate((national, [n.national for _, n in parsed]))[order]
            e164 = np.concatenate((e164, [n.e164 for _, n in parsed]))[order]
            keys = np.concatenate((keys, [int(n.e164[1:]) for _, n in parsed]))[order]
        return ListNumbers(
            lines=lines[at],
            written=np.array(values, dtype=object)[at],
            national=national,
            e164=e164,
            keys=keys.astype(np.int64, copy=False),
        )


# ListedNumber._make without its Python frame: a million rows a list
_LISTED = functools.partial(tuple.__new__, ListedNumber)


class Cells(NamedTuple):
    """A batch of a list's phone cells, a column each: the line of each (from 1) and the
    cell as the file has it."""

    lines: npt.NDArray[np.int64]
    values: list[str]


class PhoneCells:
    """The phone cells of a list file's data rows, the header and blank rows left out:
    `(line, cell)` pairs when iterated, or `columns()` a batch at a time; ListError when the
    file cannot be read as a list. Read once."""

    def __init__(self, stream: BinaryReadable, *, max_bytes: int = MAX_BYTES) -> None:
        self._source = _LineSource(_line_blocks(stream, max_bytes))

    def __iter__(self) -> Iterator[tuple[int, str]]:
        for cells in self.columns():
            yield from zip(cells.lines.tolist(), cells.values, strict=True)

    def columns(self) -> Iterator[Cells]:
        source = self._source
        blank = 0
        for first in source.lines():
            if first.strip():
                break
            blank += 1
        else:
            return
        delimiter = _sniff_delimiter(first)
        rows = csv.reader(chain([first], source.lines()), delimiter=delimiter)
        consumed = blank  # lines read before the next row
        column = 0
        try:
            for row in rows:  # up to the first row that is not blank: a header, or a number
                line, consumed = consumed + 1, blank + rows.line_num
                if any(cell.strip() for cell in row):
                    header = _header_column(row)
                    if header is None:
                        yield _cells([line], [row[0].strip()])
                    else:
                        column = header
                    break
            while block := source.block():
                if '"' in "".join(block):  # quoted cells: the csv module reads them
                    texts = (text + "\n" for text in block)
                    rows = csv.reader(chain(texts, source.lines()), delimiter=delimiter)
                    lines: list[int] = []
                    values: list[str] = []
                    start = consumed
                    for row in rows:
                        line, consumed = consumed + 1, start + rows.line_num
                        value = row[column].strip() if column < len(row) else ""
                        if value or any(cell.strip() for cell in row):
                            lines.append(line)
                            values.append(value)
                        if rows.line_num >= len(block):
                            break
                    yield _cells(lines, values)
                else:
                    yield _unquoted_cells(block, consumed + 1, delimiter, column)
                    consumed += len(block)
        except csv.Error as exc:
            raise ListError(f"file: line {consumed + 1}: {_csv_problem(exc)}") from exc


def phone_cells(stream: BinaryReadable, *, max_bytes: int = MAX_BYTES) -> PhoneCells:
    """(line, phone cell) of each data row of a list file, the header and blank rows left
    out; ListError when the file cannot be read as a list."""
    return PhoneCells(stream, max_bytes=max_bytes)


def _cells(lines: Sequence[int], values: list[str]) -> Cells:
    return Cells(np.array(lines, dtype=np.int64), values)


def _unquoted_cells(block: list[str], first: int, delimiter: str, column: int) -> Cells:
    """The cells of lines with no quote, which the csv module splits at each delimiter
    alone; `first` is the first one's line."""
    try:  # as in most files: every row has the phone column
        values = [text.split(delimiter, column + 1)[column].strip() for text in block]
    except IndexError:
        values = [_cell(text.split(delimiter, column + 1), column) for text in block]
    lines = np.arange(first, first + len(block), dtype=np.int64)
    if "" not in values:
        return Cells(lines, values)
    kept = [
        i
        for i, (text, value) in enumerate(zip(block, values, strict=True))
        if value or any(cell.strip() for cell in text.split(delimiter))
    ]
    return Cells(lines[kept], [values[i] for i in kept])


def _cell(row: list[str], column: int) -> str:
    return row[column].strip() if column < len(row) else ""


class _LineSource:
    """The lines of a file from blocks of them: a block at a time (lines without their
    end), or a line at a time ending in "\\n", as the csv module asks for them."""

    def __init__(self, blocks: Iterator[list[str]]) -> None:
        self._blocks = blocks
        self._block: list[str] = []
        self._at = 0  # the next line of `_block`

    def block(self) -> list[str]:
        """The lines not read yet of the current block, or the next block; [] at the end."""
        if self._at < len(self._block):
            rest = self._block[self._at :]
        else:
            rest = next(self._blocks, [])
        self._block, self._at = [], 0
        return rest

    def lines(self) -> Iterator[str]:
        while True:
            if self._at == len(self._block):
                self._block, self._at = next(self._blocks, []), 0
                if not self._block:
                    return
            self._at += 1
            yield self._block[self._at - 1] + "\n"


def _line_blocks(stream: BinaryReadable, max_bytes: int) -> Iterator[list[str]]:
    """The text lines of `stream` (CRLF, CR or LF) without their ends, a chunk's at a time
    (none empty); the encoding is UTF-8 unless a byte order mark says UTF-16."""
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
        if parts:
            yield parts
    if pending:
        yield [pending]


def _chunks(stream: BinaryReadable, max_bytes: int) -> Iterator[bytes]:
    size = 0
    while chunk := stream.read(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise ListTooLarge(f"file: larger than {max_bytes / (1024 * 1024):g} MiB")
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
