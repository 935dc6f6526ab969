"""The listeners a call may ask the media process for, by name, with JSON settings.

A call names its listeners and their settings (`ListenerSpec`); the process that receives
its RTP builds them here, since objects do not cross the process boundary.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from voxcall.dialers.sip.inbound import InboundFormat, MediaEvent, MediaListener
from voxcall.dialers.sip.keys import KeyPressListener
from voxcall.dialers.sip.machine import MachineListener

ListenerSpec = Mapping[str, Mapping[str, Any]]  # listener name -> its settings

FACTORIES: dict[str, Callable[[Mapping[str, Any]], MediaListener]] = {
    "keys": KeyPressListener.from_settings,
    "amd": MachineListener.from_settings,
}


def check_spec(spec: ListenerSpec) -> None:
    """ValueError for a listener name not in FACTORIES."""
    for name in spec:
        if name not in FACTORIES:
            raise ValueError(f"unknown media listener {name!r} (known: {', '.join(FACTORIES)})")


def build_listeners(spec: ListenerSpec) -> list[MediaListener]:
    """The listeners `spec` names, in its order."""
    check_spec(spec)
    return [FACTORIES[name](settings) for name, settings in spec.items()]


class Receiver(Protocol):
    """What a call needs to hear the callee: the media process (media_process.py)."""

    def listen(
        self,
        sock: socket.socket,
        media_format: InboundFormat,
        listeners: ListenerSpec,
        on_event: Callable[[MediaEvent], None],
    ) -> int:
        """Run `listeners` over the RTP arriving on `sock` from now on; their events go to
        `on_event` on the caller's loop. The caller keeps owning `sock`. Returns a handle."""

    def unlisten(self, handle: int) -> None:
        """Stop listening (no event comes after this returns); the caller may close `sock`."""
