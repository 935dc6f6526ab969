"""Key presses from real far ends, over each carrier: baresip sending RFC 4733 events, SIPp
sending SIP INFO and replaying captured telephone-events, and in-band tones."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from tests.audio.dtmf_signals import g711, key_tone, pause
from tests.peers.baresip import BaresipFactory
from tests.peers.dialing import NUMBER, dial_request, running_dialer
from tests.peers.pcap import udp_payloads, udp_pcap
from tests.peers.sipp import SippFactory
from tests.peers.voices import tone
from voxcall.dialers.base import AttemptResult
from voxcall.dialers.sip.rtp import RtpPacket
from voxcall.domain.interaction import Gather

pytestmark = pytest.mark.peers

DATA = Path(__file__).with_name("data")


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


async def test_sipp_presses_keys_by_sip_info(sipp_uas: SippFactory) -> None:
    uas = sipp_uas("uas_keys_info.xml")
    gather = Gather(max_digits=4, timeout=5, finish_on_key="#")
    async with running_dialer(uas.trunk) as dialer:
        outcome = await dialer.dial(dial_request(tone(8.0), gather=gather))
    assert outcome.result is AttemptResult.ANSWERED
    assert (outcome.digits, outcome.cause) == ("42", "200 OK; finish key")
    assert await asyncio.to_thread(uas.wait) == 0, uas.diagnostics()  # each INFO got its 200


def telephone_events(*names: str) -> list[tuple[float, bytes]]:
    """The captured presses SIPp ships, one after the other, half a second apart."""
    datagrams = []
    for n, name in enumerate(names):
        press = udp_payloads(DATA / name)
        start = press[0][0]
        datagrams += [(n * 0.5 + at - start, payload) for at, payload in press]
    return datagrams


def tones_in_pcmu(keys: str) -> list[tuple[float, bytes]]:
    """RTP in PCMU carrying `keys` as tones: 80 ms each with 120 ms of silence between."""
    rng = np.random.default_rng(11)
    signal = np.concatenate(
        [pause(200), *(np.concatenate([key_tone(k, 80, rng=rng), pause(120)]) for k in keys)]
    )
    audio = g711(np.concatenate([signal, pause(300)]), "PCMU")
    return [
        (n * 0.020, RtpPacket(0, n, 160 * n, 0x5EED, audio[160 * n : 160 * n + 160]).serialize())
        for n in range(len(audio) // 160)
    ]


@pytest.mark.parametrize(
    ("datagrams", "digits"),
    [
        # Debian's captures: 10 packets a press, the end packet three times; all count once.
        (telephone_events("dtmf_2833_1.pcap", "dtmf_2833_star.pcap", "dtmf_2833_pound.pcap"), "1*"),
        (tones_in_pcmu("907#"), "907"),
    ],
    ids=["rfc4733", "inband"],
)
async def test_sipp_replays_key_presses(
    sipp_uas: SippFactory, datagrams: list[tuple[float, bytes]], digits: str
) -> None:
    uas = sipp_uas("uas_keys_pcap.xml", files={"keys.pcap": udp_pcap(datagrams)})
    gather = Gather(max_digits=8, timeout=5, finish_on_key="#")
    async with running_dialer(uas.trunk) as dialer:
        outcome = await dialer.dial(dial_request(tone(8.0), gather=gather))
    assert outcome.result is AttemptResult.ANSWERED
    assert (outcome.digits, outcome.cause) == (digits, "200 OK; finish key")
    assert await asyncio.to_thread(uas.wait) == 0, uas.diagnostics()
