"""A do-not-call list uploaded as a file (api.md §9: "multipart file (as in §8)"), through
DncService on SQLite and PostgreSQL: the campaign list reader's encodings, headers and digits,
the same counts as the JSON form, a 100,000-row file, and a file that is not a list."""

from __future__ import annotations

import io

import pytest

from voxcall.calls.dnc_lists import DncAdded, DncService
from voxcall.calls.errors import FileTooLarge, InvalidList
from voxcall.store.store import Store


def _listed(dnc: DncService, numbers: list[str]) -> list[bool]:
    return [dnc.lookup(None, n).listed for n in numbers]


def test_bom_utf16_and_persian_digits(admin_store: Store) -> None:
    project = admin_store.create_project("p", rate_limit=10, allowed_regions=["IR"])
    dnc = DncService(admin_store)
    utf8 = "\ufeffname;mobile\r\nAli;۰۹۱۲۱۲۳۴۵۶۷\r\n\r\nSara;0935 123 4567\r\nBad;12\r\n"
    first = dnc.add_file(project, io.BytesIO(utf8.encode("utf-8")))
    assert first == DncAdded(added=2, already_listed=0, invalid=1)
    # UTF-16 with its byte order mark: a repeat of the file above, a foreign number (a list
    # may hold any country's), one number twice (counted once), Arabic-Indic digits
    arabic_indic = "٠٩٣٥١٢٣٤٥٦٨"
    utf16 = f"phone\n+989121234567\n+14155552671\n09191234567\n0919-123-4567\n{arabic_indic}\n"
    second = dnc.add_file(project, io.BytesIO(utf16.encode("utf-16")))
    assert second == DncAdded(added=3, already_listed=1, invalid=0)
    for number in ("09121234567", "09351234567", "+14155552671", "09191234567", "09351234568"):
        assert dnc.lookup(project, number).listed, number
    assert not dnc.lookup(None, "09121234567").listed  # the project's list, not the operator's


def test_a_file_answers_as_the_json_form(admin_store: Store) -> None:
    project = admin_store.create_project("p", rate_limit=10, allowed_regions=["IR"])
    dnc = DncService(admin_store)
    numbers = ["0912 123 4567", "+98-912-123-4568", "abc", "09121234567", "9121234569"]
    dnc.add(project, ["09121234569"])
    from_file = dnc.add_file(project, io.BytesIO("\n".join(numbers).encode()))
    dnc.remove(project, "09121234567")
    dnc.remove(project, "09121234568")
    assert dnc.add(project, numbers) == from_file == DncAdded(2, 1, 1)


def test_a_hundred_thousand_rows_to_the_operators_list(admin_store: Store) -> None:
    dnc = DncService(admin_store)
    numbers = [f"0912{i:07d}" for i in range(100_000)]
    text = "phoneNumber\n" + "\n".join(numbers) + "\n"
    dnc.add(None, numbers[:10])
    added = dnc.add_file(None, io.BytesIO(text.encode()))
    assert added == DncAdded(added=99_990, already_listed=10, invalid=0)
    assert _listed(dnc, [numbers[0], numbers[54_321], numbers[-1]]) == [True] * 3
    entries = dnc.page(None, after=None, limit=1000)
    assert [e.phone_number for e in entries] == numbers[:1000]
    again = dnc.add_file(None, io.BytesIO(text.encode()))
    assert again == DncAdded(added=0, already_listed=100_000, invalid=0)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "file: the list holds no number"),
        (b"phone\n\n", "file: the list holds no number"),
        (
            "09121234567\n".encode("utf-16-le"),
            "file: line 1: holds a NUL character (UTF-16 text needs its byte order mark)",
        ),
        (b"09121234567\n\xff\xfe\n", "file: line 2: not UTF-8 text (invalid start byte)"),
    ],
)
def test_a_file_that_is_not_a_list_lists_nothing(
    admin_store: Store, content: bytes, message: str
) -> None:
    project = admin_store.create_project("p", rate_limit=10, allowed_regions=["IR"])
    dnc = DncService(admin_store)
    with pytest.raises(InvalidList) as refused:
        dnc.add_file(project, io.BytesIO(content))
    assert refused.value.message == message
    assert dnc.page(project, after=None, limit=10) == []


def test_a_list_over_its_size_lists_nothing(admin_store: Store) -> None:
    dnc = DncService(admin_store)
    text = "".join(f"0912{i:07d}\n" for i in range(100_000)).encode()  # 1.1 MiB
    with pytest.raises(FileTooLarge, match=r"^file: larger than 1 MiB$"):
        dnc.add_file(None, io.BytesIO(text), max_bytes=1024 * 1024)
    assert dnc.page(None, after=None, limit=10) == []
