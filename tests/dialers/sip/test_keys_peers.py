"""Key presses from real far ends, over each carrier: baresip sending RFC 4733 events, SIPp
sending SIP INFO and replaying captured telephone-events, and in-band tones."""

from __future__ import annotations

import asyncio

import pytest

from tests.peers.baresip import BaresipFactory
from tests.peers.dialing import NUMBER, dial_request, running_dialer
from tests.peers.voices import tone
from voxcall.dialers.base import AttemptResult, Gather

pytestmark = pytest.mark.peers


async def test_baresip_presses_keys_as_rfc4733_events(baresip_callee: BaresipFactory) -> None:
    callee = baresip_callee(NUMBER)
    gather = Gather(max_digits=3, timeout=5, finish_on_key="#")
    async with running_dialer(callee.trunk) as dialer:
        call = asyncio.ensure_future(dialer.dial(dial_request(tone(8.0), gather=gather)))
        await asyncio.to_thread(callee.wait_for_log, "incoming rtp for 'audio' established")
        for key in "42#":
            await asyncio.to_thread(callee.command, "sndcode", key)
            await asyncio.sleep(0.3)
        outcome = await asyncio.wait_for(call, timeout=10)
    assert outcome.result is AttemptResult.ANSWERED
    assert outcome.digits == "42"
    assert outcome.cause == "200 Answering; finish key"
    assert outcome.answered_at is not None
    assert outcome.ended_at - outcome.answered_at < 4.0  # the 8 s message was cut short
