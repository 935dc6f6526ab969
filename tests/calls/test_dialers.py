"""DialerService: dialers as the operator adds and changes them, on each backend."""

from __future__ import annotations

import pytest

from voxcall.calls.dialers import DialerChanges, DialerService, new_dialer
from voxcall.calls.errors import AdminRefused
from voxcall.domain.money import Tariff
from voxcall.store.store import Store

TARIFF = Tariff(600_000, billing_increment=30, connect_fee=5_000, reserve_margin=0)


def test_the_drivers_options_are_checked_and_completed_when_added(admin_store: Store) -> None:
    dialers = DialerService(admin_store)
    options: dict[str, object] = {"trunk": "sip:127.0.0.1:5070", "username": "u", "password": "p"}
    trunk = new_dialer("t1", "sip", "T1", options)
    added = dialers.add(trunk)
    assert added.options["bye_tail"] == 250 and added.options["password"] == "p"
    assert dialers.get("t1") == added
    with pytest.raises(AdminRefused) as refused:
        dialers.add(new_dialer("t2", "sip", "T2", {"trunk": "nothing"}))
    assert refused.value.message == "trunk: URI has no scheme: 'nothing'"
    with pytest.raises(AdminRefused) as refused:
        dialers.add(new_dialer("t1", "sandbox", "again", {}))
    assert refused.value.message == "a dialer 't1' exists"
    sandbox = dialers.add(new_dialer("s1", "sandbox", "S1", {"cdr_file": "/tmp/cdr.jsonl"}))
    assert sandbox.options == {"cdr_file": "/tmp/cdr.jsonl"}  # no driver checks sandbox's
    assert [d.id for d in dialers.list()] == ["s1", "t1"]


def test_an_update_changes_what_is_given_and_keeps_the_rest(admin_store: Store) -> None:
    dialers = DialerService(admin_store)
    trunk = dialers.add(
        new_dialer("t1", "sip", "T1", {"trunk": "sip:127.0.0.1"}, channels=4, tariff=TARIFF)
    )
    updated = dialers.update(trunk, DialerChanges(cps=2.5, make_default=True, bye_tail=500))
    assert updated == dialers.get("t1")
    assert (updated.name, updated.channels, updated.cps, updated.is_default) == ("T1", 4, 2.5, True)
    assert updated.tariff == TARIFF  # a margin of 0 is kept, not taken for "not given"
    assert updated.options == {**trunk.options, "bye_tail": 500}
    repriced = dialers.update(updated, DialerChanges(price_per_minute=0, reserve_margin=9))
    assert repriced.tariff == Tariff(0, billing_increment=30, connect_fee=5_000, reserve_margin=9)
    with pytest.raises(AdminRefused) as refused:
        dialers.update(repriced, DialerChanges(bye_tail=9000))
    assert refused.value.message == "bye_tail: 9000 ms is not 0 to 5000 ms"
    assert dialers.get("t1") == repriced


def test_unknown_dialers_are_refused(admin_store: Store) -> None:
    dialers = DialerService(admin_store)
    with pytest.raises(AdminRefused) as refused:
        dialers.get("nope")
    assert refused.value.message == "no dialer 'nope'"
    with pytest.raises(AdminRefused) as refused:
        dialers.set_enabled("nope", False)
    assert refused.value.message == "no dialer 'nope'"
    dialers.add(new_dialer("s1", "sandbox", "S1", {}))
    dialers.set_enabled("s1", False)
    assert not dialers.get("s1").enabled
    dialers.set_enabled("s1", True)
    assert dialers.get("s1").enabled
