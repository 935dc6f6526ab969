import codecs
import csv
import io
import random
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voxcall.calls.lists import (
    MAX_LINE,
    ListedNumber,
    ListError,
    ListReader,
    Rejected,
    Skipped,
    SkipReason,
    phone_cells,
)
from voxcall.calls.numbers import InvalidPhoneNumber, PlainIranian, parse_phone, plain_iranian

PARSE = partial(parse_phone, allowed_regions=("IR",))
Plain = Callable[[Sequence[str]], PlainIranian]
PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
NAME, MOBILE, NUMBER = "نام", "موبایل", "شماره"  # Persian headers: name, mobile, number


class Trickle:
    """A stream that answers at most `step` bytes a read, as a socket or a pipe may: every
    boundary (inside a CRLF, a UTF-8 or UTF-16 character, a BOM) falls between two reads."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = data
        self._at = 0
        self._step = step

    def read(self, size: int = -1, /) -> bytes:
        piece = self._data[self._at : self._at + min(size, self._step)]
        self._at += len(piece)
        return piece


def read_all(data: bytes, **options: int) -> tuple[list[ListedNumber], ListReader]:
    bytes_limit = {key: options.pop(key) for key in ("max_bytes",) if key in options}
    reader = ListReader(phone_cells(io.BytesIO(data), **bytes_limit), PARSE, **options)
    rows = [row for batch in reader.batches() for row in batch]
    return rows, reader


def lines_and_numbers(rows: list[ListedNumber]) -> list[tuple[int, str]]:
    return [(row.line, row.e164) for row in rows]


def test_a_plain_list_one_number_a_line() -> None:
    rows, reader = read_all(b"09121234567\n+98 935 123 4567\n00982112345678\n")
    assert rows == [
        ListedNumber(1, "09121234567", "09121234567", "+989121234567"),
        ListedNumber(2, "+98 935 123 4567", "09351234567", "+989351234567"),
        ListedNumber(3, "00982112345678", "02112345678", "+982112345678"),
    ]
    assert (reader.rows, reader.accepted) == (3, 3)
    assert reader.skipped.counts == dict.fromkeys(SkipReason, 0)


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_line_ends_and_blank_lines_keep_line_numbers(newline: bytes) -> None:
    text = newline.join([b"", b"09121234567", b"   ", b"", b"09351234567", b"\t", b""])
    rows, reader = read_all(text)
    assert lines_and_numbers(rows) == [(2, "+989121234567"), (5, "+989351234567")]
    assert reader.rows == 2


def test_mixed_line_ends_and_no_final_newline() -> None:
    rows, _ = read_all(b"09121234567\r\n09351234567\r09191234567\n09131234567")
    assert [row.line for row in rows] == [1, 2, 3, 4]


def test_excel_csv_with_quotes_a_bom_and_a_header() -> None:
    data = (
        codecs.BOM_UTF8
        + (
            '"Name","Phone","Note"\r\n'
            '"Ali, Reza","0912 123 4567","first ""VIP"" customer"\r\n'
            '"Sara","+98 935 123 4567","two\r\nlines of notes"\r\n'
            '"Hadi","۰۹۱۹۱۲۳۴۵۶۷",""\r\n'
        ).encode()
    )
    rows, reader = read_all(data)
    assert lines_and_numbers(rows) == [
        (2, "+989121234567"),
        (3, "+989351234567"),
        (5, "+989191234567"),  # the quoted note ran over two lines
    ]
    assert reader.rows == 3


def test_utf16_with_bom_tab_separated_as_excel_saves_unicode_text() -> None:
    text = (
        f"{NAME}\t{MOBILE}\r\n"
        f"Ali\t{'09121234567'.translate(PERSIAN)}\r\n"
        f"Sara\t{'09351234567'.translate(ARABIC_INDIC)}\r\n"
    )
    for data in (
        codecs.BOM_UTF16_LE + text.encode("utf-16-le"),
        codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
    ):
        rows, _ = read_all(data)
        assert lines_and_numbers(rows) == [(2, "+989121234567"), (3, "+989351234567")]


def test_semicolon_csv_and_the_phone_column_by_header_name() -> None:
    rows, _ = read_all(b"id;customer number;phone_number;mobile\n7;42;09121234567;09351234567\n")
    assert lines_and_numbers(rows) == [(2, "+989121234567")]  # phoneNumber before the others


@pytest.mark.parametrize(
    ("header", "column"),
    [
        ("phoneNumber", 0),
        ("name,phone", 1),
        ("name,Mobile", 1),
        ("name,NUMBER", 1),
        ("name,number,phone", 2),
        (f"{NAME},{NUMBER} {MOBILE}", 1),
        (f"{NAME},{NUMBER}\u200c{MOBILE}", 1),
        (f"{NAME},{MOBILE}", 1),
        (f"{NUMBER},{NAME}", 0),
    ],
)
def test_the_header_names_the_phone_column(header: str, column: int) -> None:
    cells = ["x"] * header.count(",")
    cells.insert(column, "09121234567")
    rows, reader = read_all(f"{header}\n{','.join(cells)}\n".encode())
    assert lines_and_numbers(rows) == [(2, "+989121234567")]
    assert reader.rows == 1


def test_a_header_that_names_no_known_column_is_skipped_and_the_first_column_used() -> None:
    rows, reader = read_all(b"Customers\n09121234567,Ali\n")
    assert lines_and_numbers(rows) == [(2, "+989121234567")]
    assert reader.skipped.counts[SkipReason.INVALID] == 0


def test_without_a_header_the_first_row_is_a_number() -> None:
    rows, _ = read_all(b"09121234567,Ali,3\n09351234567,Sara,4\n")
    assert [row.line for row in rows] == [1, 2]


def test_skips_are_counted_by_reason_with_their_lines() -> None:
    data = (
        "phone,name\n"
        "09121234567\n"
        "0912\n"  # too short
        "+14155552671\n"  # not allowed for this project
        "+98 912 123 4567\n"  # the number of line 2 again
        "0912ABC4567\n"
        "\n"
        f"{'09121234567'.translate(PERSIAN)}\n"  # again, in Persian digits
        ",Ali\n"  # no number in the phone column
        "09351234567\n"
    ).encode()
    rows, reader = read_all(data)
    assert lines_and_numbers(rows) == [(2, "+989121234567"), (10, "+989351234567")]
    assert reader.skipped.counts == {
        SkipReason.INVALID: 3,
        SkipReason.NOT_ALLOWED: 1,
        SkipReason.DUPLICATE: 2,
        SkipReason.DO_NOT_CALL: 0,
    }
    assert reader.skipped.rejected == [
        Rejected(3, "0912", SkipReason.INVALID),
        Rejected(4, "+14155552671", SkipReason.NOT_ALLOWED),
        Rejected(5, "+98 912 123 4567", SkipReason.DUPLICATE),
        Rejected(6, "0912ABC4567", SkipReason.INVALID),
        Rejected(8, "09121234567".translate(PERSIAN), SkipReason.DUPLICATE),
        Rejected(9, "", SkipReason.INVALID),
    ]
    assert (reader.rows, reader.accepted) == (8, 2)


def test_repeats_are_found_across_batches_and_batches_keep_list_order() -> None:
    numbers = [f"0912{n:07d}" for n in range(1, 40)]
    written = [*numbers, *reversed(numbers), *numbers[:5]]
    reader = ListReader(phone_cells(io.BytesIO("\n".join(written).encode())), PARSE, batch_rows=7)
    batches = list(reader.batches())
    assert all(0 < len(batch) <= 7 for batch in batches)
    rows = [row for batch in batches for row in batch]
    assert [row.line for row in rows] == list(range(1, 40))
    assert reader.skipped.counts[SkipReason.DUPLICATE] == 39 + 5


def test_only_the_first_hundred_skips_in_file_order_are_kept() -> None:
    rows, reader = read_all("\n".join(["0912"] * 150 + ["09121234567"]).encode())
    assert len(rows) == 1
    assert reader.skipped.counts[SkipReason.INVALID] == 150
    assert [r.line for r in reader.skipped.rejected] == list(range(1, 101))


def test_skips_added_later_still_keep_the_first_lines() -> None:
    skipped = Skipped(keep=3)
    for line in (10, 20, 30, 40):
        skipped.add(line, "0912", SkipReason.INVALID)
    skipped.add(5, "09121234567", SkipReason.DO_NOT_CALL)  # after its batch was read
    skipped.add(35, "09121234567", SkipReason.DO_NOT_CALL)
    assert [(r.line, r.reason) for r in skipped.rejected] == [
        (5, SkipReason.DO_NOT_CALL),
        (10, SkipReason.INVALID),
        (20, SkipReason.INVALID),
    ]
    assert skipped.counts[SkipReason.DO_NOT_CALL] == 2


def test_a_long_skipped_value_is_cut_to_show() -> None:
    _, reader = read_all(b"x" + b"1" * 500 + b"\n09121234567\n")
    (rejected,) = reader.skipped.rejected
    assert len(rejected.value) == 100


@pytest.mark.parametrize(
    ("encode", "step"),
    [
        (lambda t: t.encode(), 1),
        (lambda t: codecs.BOM_UTF8 + t.encode(), 2),
        (lambda t: codecs.BOM_UTF16_LE + t.encode("utf-16-le"), 3),
        (lambda t: codecs.BOM_UTF16_BE + t.encode("utf-16-be"), 5),
    ],
)
def test_reads_of_a_few_bytes_split_nothing(encode: object, step: int) -> None:
    text = f"{NUMBER}\r\n{'09121234567'.translate(PERSIAN)}\r\n\r\n09351234567\r09191234567\n"
    assert callable(encode)
    reader = ListReader(phone_cells(Trickle(encode(text), step)), PARSE)
    rows = [row for batch in reader.batches() for row in batch]
    assert lines_and_numbers(rows) == [
        (2, "+989121234567"),
        (4, "+989351234567"),
        (5, "+989191234567"),
    ]


@pytest.mark.parametrize("data", [b"", b"\n\n\r\n", codecs.BOM_UTF8, b"phone\n"])
def test_an_empty_list_has_no_rows(data: bytes) -> None:
    rows, reader = read_all(data)
    assert rows == []
    assert (reader.rows, reader.accepted) == (0, 0)


@pytest.mark.parametrize(
    ("data", "options", "message"),
    [
        (b"09121234567\n" * 4, {"max_rows": 3}, "file: more than 3 rows (line 4)"),
        (b"phone\n\n" + b"09121234567\n" * 4, {"max_rows": 3}, "file: more than 3 rows (line 6)"),
        (b"09121234567\n" * 10, {"max_bytes": 100}, "file: larger than 9.53674e-05 MiB"),
        (b"09121234567\n\xff\xfe\n", {}, "file: line 2: not UTF-8 text (invalid start byte)"),
        (
            "phone\n09121234567\n".encode("utf-16-le"),
            {},
            "file: line 1: holds a NUL character (UTF-16 text needs its byte order mark)",
        ),
        (
            b"09121234567\n" + b"1" * (MAX_LINE + 1) + b"\n",
            {},
            f"file: line 2: longer than {MAX_LINE:,} characters",
        ),
        (
            b'09121234567\n"09351234567,' + b"x\n" * 70_000,
            {},
            "file: line 2: a quoted field does not end",
        ),
    ],
)
def test_a_file_that_is_not_a_list_is_refused_naming_the_line(
    data: bytes, options: dict[str, int], message: str
) -> None:
    with pytest.raises(ListError) as info:
        read_all(data, **options)
    assert str(info.value) == message


def test_the_byte_limit_of_the_spec_is_counted_over_the_whole_file() -> None:
    data = b"09121234567\n" * 5
    assert read_all(data, max_bytes=len(data))[1].accepted == 1
    with pytest.raises(ListError):
        read_all(data, max_bytes=len(data) - 1)


_POOL = ["09121234567", "+989121234567", "09351234567", "0912", "+14155552671", "02112345678"]


@settings(max_examples=200, deadline=None)
@given(
    cells=st.lists(st.sampled_from([*_POOL, "", " "]), max_size=30),
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
    header=st.booleans(),
    batch_rows=st.integers(1, 5),
    plain=st.sampled_from([None, plain_iranian]),
)
def test_the_accepted_numbers_are_the_first_of_each_valid_number(
    cells: list[str], newline: str, header: bool, batch_rows: int, plain: Plain | None
) -> None:
    """A model of the rules: in file order, each allowed number the first time it appears
    (with or without the batch path for plain Iranian numbers)."""
    text = newline.join((["phone"] if header else []) + cells) + newline
    cells_read = phone_cells(io.BytesIO(text.encode()))
    reader = ListReader(cells_read, PARSE, plain=plain, batch_rows=batch_rows)
    rows = [row for batch in reader.batches() for row in batch]
    expected: list[tuple[int, str]] = []
    for line, cell in enumerate(cells, start=1 + header):
        try:
            e164 = PARSE(cell).e164
        except InvalidPhoneNumber:
            continue
        if e164 not in {number for _, number in expected}:
            expected.append((line, e164))
    assert lines_and_numbers(rows) == expected
    assert reader.accepted + sum(reader.skipped.counts.values()) == reader.rows
    assert reader.rows == sum(1 for cell in cells if cell.strip())


_CELL = st.text(alphabet=' ,;"\t\r\n0123456789+x\u00a0\u06f0', max_size=6)  # \u06f0: Persian 0


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(st.lists(_CELL, max_size=4), max_size=25),
    quoted=st.lists(st.booleans(), max_size=25),
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
    step=st.integers(1, 40),
)
def test_the_phone_cells_are_the_csv_modules_cells(
    rows: list[list[str]], quoted: list[bool], newline: str, step: int
) -> None:
    """The cells read a block of lines at a time (split in C where no cell is quoted, the
    csv module's where one is, a quoted cell running on into later blocks) are the csv
    module's cells of the whole file, on the same lines; short reads make many blocks."""
    lines = ["name,phone,note"]
    for row, quote in zip(rows, [*quoted, *[False] * len(rows)], strict=False):
        if quote or any(c in cell for cell in row for c in ',"\r\n'):
            out = io.StringIO()
            csv.writer(out, lineterminator="").writerow(row)
            lines.append(out.getvalue())
        else:
            lines.append(",".join(row))
    text = newline.join(lines) + newline
    expected = []
    records = csv.reader(io.StringIO(text.replace("\r\n", "\n").replace("\r", "\n")))
    next(records)  # the header
    consumed = 1
    for record in records:
        line, consumed = consumed + 1, records.line_num
        value = record[1].strip() if len(record) > 1 else ""
        if value or any(cell.strip() for cell in record):
            expected.append((line, value))
    assert list(phone_cells(Trickle(text.encode(), step))) == expected


def _million_rows() -> Iterator[bytes]:
    """1,000,000 rows of distinct mobile numbers with a name and a note each, CSV with a
    header, about 45 MiB: just under the limits of §8."""
    yield b"phone,name,note\r\n"
    shuffle = random.Random(12)
    for block in range(1000):
        rows = [
            f"0912{block:03d}{n:04d},Customer {block * 1000 + n:07d},Tehran note {n:05d}\r\n"
            for n in range(1000)
        ]
        shuffle.shuffle(rows)
        yield "".join(rows).encode()


@pytest.fixture(scope="module")
def million_row_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lists") / "million.csv"
    with path.open("wb") as out:
        out.writelines(_million_rows())
    return path


def test_a_million_rows_are_read_in_bounded_memory(million_row_file: Path) -> None:
    size = million_row_file.stat().st_size
    assert 40 * 1024 * 1024 < size <= 50 * 1024 * 1024
    tracemalloc.start()
    try:
        with million_row_file.open("rb") as stream:
            reader = ListReader(phone_cells(stream), PARSE)
            count = 0
            last_line = 0
            for batch in reader.batches():
                count += len(batch)
                assert batch[0].line > last_line
                last_line = batch[-1].line
            _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (count, reader.rows, last_line) == (1_000_000, 1_000_000, 1_000_001)
    # what is kept is 8 bytes a number and a batch or two, not the file (about 46 MiB)
    assert peak < 24 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"


def test_a_json_array_is_a_list_whose_lines_are_its_positions() -> None:
    numbers = ["09121234567", "0912", "+989121234567", "+14155552671", "09351234567"]
    reader = ListReader(enumerate(numbers, start=1), PARSE)
    rows = [row for batch in reader.batches() for row in batch]
    assert lines_and_numbers(rows) == [(1, "+989121234567"), (5, "+989351234567")]
    assert [(r.line, r.reason) for r in reader.skipped.rejected] == [
        (2, SkipReason.INVALID),
        (3, SkipReason.DUPLICATE),
        (4, SkipReason.NOT_ALLOWED),
    ]


def test_the_caller_skips_what_is_on_a_do_not_call_list() -> None:
    listed = {"+989351234567"}
    reader = ListReader(phone_cells(io.BytesIO(b"09351234567\n0912\n09121234567\n")), PARSE)
    kept = []
    for batch in reader.batches():
        for row in batch:
            if row.e164 in listed:
                reader.skip(row, SkipReason.DO_NOT_CALL)
            else:
                kept.append(row)
    assert lines_and_numbers(kept) == [(3, "+989121234567")]
    assert (reader.rows, reader.accepted) == (3, 1)
    assert reader.skipped.rejected == [
        Rejected(1, "09351234567", SkipReason.DO_NOT_CALL),
        Rejected(2, "0912", SkipReason.INVALID),
    ]
