"""SipDialer end to end: many calls at once, hostile input, real audio, an auth proxy."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from tests.peers.baresip import BaresipFactory
from tests.peers.dialing import NUMBER, dial_request, running_dialer
from tests.peers.kamailio import KamailioFactory
from tests.peers.net import HOST, free_ports
from tests.peers.sipp import SippFactory
from tests.peers.voices import aligned_correlation, decode_8k, speech, tone
from voxcall.dialers.base import AttemptResult, Voice8k
from voxcall.dialers.sip.media import PlaybackReport

pytestmark = pytest.mark.peers


async def test_twenty_simultaneous_calls_through_one_dialer(sipp_uas: SippFactory) -> None:
    calls = 20
    uas = sipp_uas("uas_answer.xml", calls=calls, variables={"hangup_s": "0"})
    async with running_dialer(uas.trunk) as dialer:
        outcomes = await asyncio.gather(
            *(dialer.dial(dial_request(tone(1.5, 300 + 20 * i))) for i in range(calls))
        )
        async with asyncio.timeout(2.0):  # each call ends when its BYE is answered
            await dialer.wait_idle()
    assert [o.result for o in outcomes] == [AttemptResult.ANSWERED] * calls
    assert {o.cause for o in outcomes} == {"200 OK; voice played"}
    assert {o.bill_sec for o in outcomes} == {2}
    assert await asyncio.to_thread(uas.wait) == 0, uas.diagnostics()


async def test_closing_the_dialer_mid_playback_ends_the_media_process(
    sipp_uas: SippFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    uas = sipp_uas("uas_answer.xml", variables={"hangup_s": "0"})
    async with running_dialer(uas.trunk) as dialer:
        child = dialer._pacer._child
        assert child is not None and child.poll() is None  # started with the dialer
        assert dialer._receiver.pid is None  # started by the first call that listens
        assert dialer.media_pids == (child.pid,)
        playing = asyncio.Event()
        play = dialer._pacer.play

        def play_and_tell(*args: Any) -> asyncio.Future[PlaybackReport]:
            playing.set()
            return play(*args)

        monkeypatch.setattr(dialer._pacer, "play", play_and_tell)
        attempt = asyncio.create_task(dialer.dial(dial_request(tone(30.0))))
        await asyncio.wait_for(playing.wait(), timeout=10)
        assert dialer._pacer.active_streams == 1
    # close() hung the call up (its BYE answered) and ended the media process.
    assert child.returncode == 0
    outcome = await attempt
    assert (outcome.result, outcome.cause) == (AttemptResult.ANSWERED, "200 OK; hung up by voxcall")
    assert await asyncio.to_thread(uas.wait) == 0, uas.diagnostics()


HOSTILE: list[bytes] = [
    b"\x00\xff" * 300,  # binary noise
    b"INVITE",  # a truncated request
    b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKx\r\n\r\n",  # headers missing
    b"SIP/2.0 200 OK\r\nVia: nonsense\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\n"
    b"Call-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",  # a Via that does not parse
    b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKx\r\n"
    b"From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n"
    b"Content-Length: 9999\r\n\r\n",  # a body shorter than its Content-Length
    b"SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKnotours\r\n"
    b"From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n"
    b"Content-Length: 0\r\n\r\n",  # well formed, for no transaction of ours
    b"\r\n\r\n",  # a keep-alive
    b"A" * 70000,  # larger than any SIP message may be (the kernel may cut it: still junk)
]


async def test_hostile_datagrams_during_a_call_change_nothing(sipp_uas: SippFactory) -> None:
    uas = sipp_uas("uas_answer.xml", variables={"hangup_s": "0"})
    async with running_dialer(uas.trunk) as dialer:
        attempt = asyncio.create_task(dialer.dial(dial_request(tone(2.5))))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as attacker:
            attacker.bind((HOST, 0))
            for moment in (0.1, 0.9):  # while ringing, and while the voice plays
                await asyncio.sleep(moment)
                for datagram in HOSTILE:
                    try:
                        attacker.sendto(datagram, dialer.local_address)
                    except OSError:  # EMSGSIZE for the oversized one
                        pass
            # Still serving: a stray BYE gets its 481 from the same socket.
            attacker.sendto(
                b"BYE sip:voxcall@127.0.0.1 SIP/2.0\r\n"
                b"Via: SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bKstray\r\n"
                b"From: <sip:x@127.0.0.1>;tag=a\r\nTo: <sip:y@127.0.0.1>;tag=b\r\n"
                b"Call-ID: stray\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n",
                dialer.local_address,
            )
            attacker.settimeout(2.0)
            reply = await asyncio.to_thread(attacker.recv, 65536)
        outcome = await attempt
    assert reply.startswith(b"SIP/2.0 481 ")
    assert outcome.result is AttemptResult.ANSWERED
    assert outcome.cause == "200 OK; voice played"
    assert outcome.bill_sec == 3  # 2.5 s of voice, undisturbed
    assert await asyncio.to_thread(uas.wait) == 0, uas.diagnostics()


@pytest.mark.parametrize("codec", ["PCMA", "PCMU"])
async def test_baresip_hears_the_voice_we_sent(
    baresip_callee: BaresipFactory, tmp_path: Path, codec: str
) -> None:
    voice = speech("Hello. This is a voice message from vox call. Goodbye.", tmp_path)
    callee = baresip_callee(user=NUMBER)  # baresip answers only its account's user
    async with running_dialer(callee.trunk, codecs=codec) as dialer:
        outcome = await dialer.dial(dial_request(voice))
    assert outcome.result is AttemptResult.ANSWERED, outcome
    assert outcome.cause == "200 Answering; voice played"  # baresip's reason phrase
    heard = decode_8k(await asyncio.to_thread(callee.recording))
    sent = np.frombuffer(voice.pcm, dtype="<i2")
    assert len(heard) > 0.8 * len(sent)
    assert aligned_correlation(sent, heard) >= 0.9


def frames_of(pcm: npt.NDArray[np.int16], frequency: float) -> int:
    """How many 20 ms frames of `pcm` are mostly a tone of `frequency` (against 400 Hz)."""
    t = np.arange(160) / 8000
    ours, other = np.exp(-2j * np.pi * frequency * t), np.exp(-2j * np.pi * 400 * t)
    frames = pcm[: len(pcm) // 160 * 160].astype(np.float64).reshape(-1, 160)
    return int(
        np.sum((np.abs(frames @ ours) > 4 * np.abs(frames @ other)) & (np.abs(frames @ ours) > 1e4))
    )


@pytest.mark.parametrize(("bye_tail", "heard_whole"), [(250, True), (0, False)])
async def test_the_bye_tail_lets_the_callee_hear_the_last_syllable(
    baresip_callee: BaresipFactory, bye_tail: int, heard_whole: bool
) -> None:
    # 1 s of a 400 Hz tone, then the "last syllable": 200 ms (10 packets) of 1600 Hz.
    # baresip's jitter buffer holds 5 packets and gives one out per packet that arrives:
    # a BYE right after the last packet (no tail, as before) loses the last 100 ms (the
    # second case shows that this test can tell), while the tail's silence pushes them out.
    voice = Voice8k(tone(1.0, 400).pcm + tone(0.2, 1600).pcm)
    callee = baresip_callee(user=NUMBER)
    async with running_dialer(callee.trunk, codecs="PCMU", bye_tail=bye_tail) as dialer:
        outcome = await dialer.dial(dial_request(voice))
    assert outcome.result is AttemptResult.ANSWERED, outcome
    assert outcome.answered_at is not None
    # Billed to the BYE, which leaves with the last packet, 20 ms before its audio ends.
    assert outcome.ended_at - outcome.answered_at >= 1.2 + bye_tail / 1000 - 0.03
    heard = decode_8k(await asyncio.to_thread(callee.recording))
    assert (frames_of(heard, 1600) == 10) is heard_whole


async def test_kamailio_auth_proxy_right_password(
    kamailio_proxy: KamailioFactory, sipp_uas: SippFactory
) -> None:
    uas_port = free_ports(1)
    proxy = kamailio_proxy(uas_port, user="alice", password="secret")
    uas = sipp_uas("uas_answer.xml", variables={"hangup_s": "0"}, port=uas_port)
    async with running_dialer(proxy.trunk, username="alice", password="secret") as dialer:
        outcome = await dialer.dial(dial_request(tone(1.0)))
    assert outcome.result is AttemptResult.ANSWERED, proxy.diagnostics()
    assert outcome.cause == "200 OK; voice played"
    # The ACK and BYE reached the UAS through the proxy (Record-Route, loose routing).
    assert await asyncio.to_thread(uas.wait) == 0, uas.diagnostics()
    assert "auth ok user=alice" in proxy.diagnostics()


async def test_kamailio_auth_proxy_wrong_password(kamailio_proxy: KamailioFactory) -> None:
    proxy = kamailio_proxy(free_ports(1), user="alice", password="secret")
    async with running_dialer(proxy.trunk, username="alice", password="guess") as dialer:
        outcome = await dialer.dial(dial_request(tone(1.0)))
    assert (outcome.result, outcome.cause) == (AttemptResult.ERROR, "403 Forbidden")
