"""Running a SipDialer against a peer in tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tests.peers.net import free_ports
from voxcall.dialers.base import DialRequest, Voice8k
from voxcall.dialers.sip.config import SipTrunkConfig
from voxcall.dialers.sip.driver import SipDialer
from voxcall.dialers.sip.timers import TimerValues
from voxcall.domain.interaction import Gather

NUMBER = "09121234567"


@asynccontextmanager
async def running_dialer(
    trunk: str,
    *,
    username: str | None = None,
    password: str | None = None,
    timers: TimerValues | None = None,
    codecs: str = "PCMA,PCMU",
    local_port: int | None = None,
    local_ip: str | None = None,
    bye_tail: int | None = None,
) -> AsyncIterator[SipDialer]:
    low = free_ports(64)
    options: dict[str, object] = {
        "trunk": trunk,
        "username": username,
        "password": password,
        "codecs": codecs,
        "rtp_ports": f"{low}-{low + 63}",
        "local_port": local_port,
        "local_ip": local_ip,
        "bye_tail": bye_tail,
    }
    dialer = SipDialer(SipTrunkConfig.from_options(options), timers=timers)
    await dialer.start()
    try:
        yield dialer
    finally:
        await dialer.close()


def dial_request(
    voice: Voice8k,
    *,
    ring_timeout: float = 10.0,
    number: str = NUMBER,
    gather: Gather | None = None,
) -> DialRequest:
    return DialRequest(
        attempt_id=uuid.uuid4().hex,
        national_number=number,
        e164="+98" + number.removeprefix("0"),
        voice=voice,
        ring_timeout=ring_timeout,
        gather=gather,
    )
