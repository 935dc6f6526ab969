"""The SIP transports under real traffic from SIPp, on both event loops.

ICMP errors are where the loops differ: uvloop stopped reading a UDP socket for good at its
first ICMP error, so a dialer whose trunk restarted, or whose callee's Contact had gone,
placed no call that worked again.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.peers.dialing import dial_request, running_dialer
from tests.peers.net import HOST, free_ports
from tests.peers.sipp import SippFactory
from tests.peers.voices import tone
from voxcall.dialers.base import AttemptResult

pytestmark = pytest.mark.peers


async def test_a_trunk_that_restarts_is_called_again(sipp_uas: SippFactory) -> None:
    port = free_ports(1)
    async with running_dialer(f"sip:{HOST}:{port}") as dialer:
        down = await dialer.dial(dial_request(tone(1.0)))
        assert (down.result, down.cause) == (AttemptResult.ERROR, "ICMP port unreachable")
        assert down.ended_at - down.started_at < 1.0  # not Timer B's 32 s
        uas = await asyncio.to_thread(
            sipp_uas, "uas_answer.xml", variables={"hangup_s": "0"}, port=port
        )
        up = await dialer.dial(dial_request(tone(1.5)))
    assert (up.result, up.cause) == (AttemptResult.ANSWERED, "200 OK; voice played")
    assert up.bill_sec == 2
    assert await asyncio.to_thread(uas.wait) == 0, uas.diagnostics()


async def test_a_contact_nobody_listens_on_leaves_the_dialer_working(
    sipp_uas: SippFactory,
) -> None:
    # Our ACK and BYE go to the 200's Contact and draw ICMP port unreachable.
    trunk_port = free_ports(2)
    dead_port = trunk_port + 1  # odd: no RTP port, SIPp's or ours, takes it
    gone = await asyncio.to_thread(
        sipp_uas,
        "uas_answer_dead_contact.xml",
        variables={"contact_port": str(dead_port)},
        port=trunk_port,
    )
    async with running_dialer(f"sip:{HOST}:{trunk_port}") as dialer:
        first = await dialer.dial(dial_request(tone(0.5)))
        assert await asyncio.to_thread(gone.wait) == 0, gone.diagnostics()
        # The BYE's ICMP error ended its transaction at once: nothing is left retrying.
        async with asyncio.timeout(2.0):
            await dialer.wait_idle()
        uas = await asyncio.to_thread(
            sipp_uas, "uas_answer.xml", variables={"hangup_s": "0"}, port=trunk_port
        )
        second = await dialer.dial(dial_request(tone(1.5)))
    assert (first.result, first.cause) == (AttemptResult.ANSWERED, "200 OK; voice played")
    assert (second.result, second.cause) == (AttemptResult.ANSWERED, "200 OK; voice played")
    assert second.bill_sec == 2
    assert await asyncio.to_thread(uas.wait) == 0, uas.diagnostics()
