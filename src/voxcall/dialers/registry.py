"""Build a driver from its stored name and options."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from voxcall.dialers.base import Dialer
from voxcall.dialers.sandbox import SandboxDialer

DRIVERS = ("sandbox", "sip")

# What the scheduler is given to start a dialer's driver: (driver, options) -> Dialer.
DialerFactory = Callable[[str, Mapping[str, object]], Dialer]


def build_dialer(driver: str, options: Mapping[str, object], *, sandbox_speed: float) -> Dialer:
    if driver == "sandbox":
        cdr_file = options.get("cdr_file")
        return SandboxDialer(speed=sandbox_speed, cdr_file=str(cdr_file) if cdr_file else None)
    if driver == "sip":
        from voxcall.dialers.sip.driver import SipDialer, SipTrunkConfig

        dialer: Dialer = SipDialer(SipTrunkConfig.from_options(options))
        return dialer
    raise ValueError(f"driver: unknown driver {driver!r} (known: {', '.join(DRIVERS)})")
