"""DncService on SQLite and PostgreSQL: a number listed in one written form stops calls
written in every other, and the refusal names the field."""

from __future__ import annotations

import pytest

from tests.calls.test_dnc import MOBILE
from voxcall.calls.dnc_lists import DncService
from voxcall.calls.errors import DoNotCall
from voxcall.calls.numbers import parse_phone
from voxcall.store.store import Store

FORMS = [
    "09121234567",
    "9121234567",
    "+989121234567",
    "989121234567",
    "00989121234567",
    "0912-123 4567",
    "۰۹۱۲۱۲۳۴۵۶۷",
    "٠٩١٢١٢٣٤٥٦٧",
]


@pytest.mark.parametrize("listed_as", FORMS)
def test_every_written_form_matches(admin_store: Store, listed_as: str) -> None:
    project = admin_store.create_project("p", rate_limit=10, allowed_regions=["IR"])
    dnc = DncService(admin_store)
    assert dnc.add(project, [listed_as]).added == 1
    assert dnc.add(project, FORMS).already_listed == 1
    for written in FORMS:
        assert dnc.lookup(project, written).listed
        number = parse_phone(written)
        assert number.e164 == MOBILE
        with pytest.raises(DoNotCall, match=r"^phoneNumbers\[1\]: 09121234567 is on"):
            dnc.refuse_listed(
                project, [parse_phone("09121234560"), number], one_time_code=False, batch=True
            )
        dnc.refuse_listed(project, [number], one_time_code=True, batch=False)
