"""Reading a campaign list (issue 12): the parser alone, before any storage.

    python -m bench.list_import [--rows 1000000] [--seed 12] [--naive 100000]

Writes a CSV list of `--rows` rows (a header; each row a number, a name and a note; CRLF)
in the forms a list comes in: "0912...", "+98 912 ...", "98912...", "0098912...", Persian
digits, with 1 % repeats and 1 % invalid numbers. Then, over the same file:

- `ListReader` with `parse_phone`, as a campaign import reads it (voxcall);
- the stdlib `csv` reader taking the first column and nothing else (the floor: reading);
- libphonenumber's parse, validity and formats per number, on the first `--naive` cells
  (what each number cost before the Iranian shortcut).

Figures are numbers per CPU second of this process (the wall clock moves with whatever else
runs on the machine; CPU time much less). The import target of issue 12 is 100,000 numbers
per second including storage, so the parser must stay well above it.
"""

from __future__ import annotations

import argparse
import csv
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import phonenumbers

from bench.common import header, table, verdict
from voxcall.calls.lists import ListReader, SkipReason, phone_cells
from voxcall.calls.numbers import parse_phone

_PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
_ASCII = str.maketrans("۰۱۲۳۴۵۶۷۸۹", "0123456789")
_FORMS: list[Callable[[str], str]] = [
    lambda n: f"0{n}",
    lambda n: f"0{n}",
    lambda n: f"+98 {n[:3]} {n[3:6]} {n[6:]}",
    lambda n: f"98{n}",
    lambda n: f"0098{n}",
    lambda n: f"0{n[:3]}-{n[3:6]}-{n[6:]}",
    lambda n: f"0{n}".translate(_PERSIAN),
]
_OPERATORS = ("912", "935", "901", "919", "936", "990", "921", "939")


def rows(count: int, seed: int) -> Iterator[str]:
    chance = random.Random(seed)
    written: list[str] = []
    yield "phone,name,note\r\n"
    for n in range(count):
        draw = chance.random()
        if draw < 0.01 and written:
            cell = chance.choice(written)  # a repeat
        elif draw < 0.02:
            cell = f"0912{chance.randrange(10**5):05d}"  # two digits short
        else:
            significant = chance.choice(_OPERATORS) + f"{chance.randrange(10**7):07d}"
            cell = chance.choice(_FORMS)(significant)
            if len(written) < 10_000:
                written.append(cell)
        yield f'"{cell}",Customer {n},"note, {n % 97}"\r\n'


def cpu_rate(count: int, run: Callable[[], object]) -> tuple[float, float]:
    """(numbers per CPU second, CPU seconds) of `run`."""
    start = time.process_time()
    run()
    spent = time.process_time() - start
    return count / spent, spent


def read_list(path: Path) -> ListReader:
    with path.open("rb") as stream:
        reader = ListReader(phone_cells(stream), parse_phone)
        for _ in reader.batches():
            pass
    return reader


def read_cells(path: Path, limit: int | None = None) -> list[str]:
    with path.open(newline="", encoding="utf-8") as text:
        cells = csv.reader(text)
        next(cells)
        return [row[0] for _, row in zip(range(limit or 10**12), cells, strict=False)]


def naive(cells: list[str]) -> None:
    for cell in cells:
        try:
            number = phonenumbers.parse(cell.translate(_ASCII), "IR")
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
            phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--naive", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="voxcall-list-") as folder:
        path = Path(folder) / "list.csv"
        with path.open("w", encoding="utf-8", newline="") as out:
            out.writelines(rows(args.rows, args.seed))
        size = path.stat().st_size
        reader: list[ListReader] = []
        ours, ours_cpu = cpu_rate(args.rows, lambda: reader.append(read_list(path)))
        floor, floor_cpu = cpu_rate(args.rows, lambda: read_cells(path))
        sample = read_cells(path, args.naive)
        full, full_cpu = cpu_rate(len(sample), lambda: naive(sample))
    skipped = reader[0].skipped.counts
    command = f"python -m bench.list_import --rows {args.rows}"
    print(header("List import: the parser alone", command))
    print(
        f"{args.rows:,} rows, {size / 2**20:.1f} MiB; accepted {reader[0].accepted:,}, "
        + ", ".join(f"{reason} {skipped[reason]:,}" for reason in SkipReason)
        + "\n"
    )
    print(
        table(
            ["what", "rows", "CPU s", "numbers / CPU s", "voxcall / this"],
            [
                ["ListReader + parse_phone (voxcall)", args.rows, ours_cpu, ours, 1.0],
                ["csv first column, no checks (floor)", args.rows, floor_cpu, floor, ours / floor],
                ["libphonenumber per number (before)", len(sample), full_cpu, full, ours / full],
            ],
        )
    )
    target = 100_000
    print(f"\nParser above the import target of {target:,} numbers/s: {verdict(ours >= target)}")


if __name__ == "__main__":
    main()
