"""The store: every read and write of voxcall's state, behind one narrow interface.

`Store` is the aggregates of `voxcall.store` over one `Database`: each public method is one
transaction of one of them. The layers above take the narrower part they need.
"""

from __future__ import annotations

from voxcall.store.call_queue import CallQueue
from voxcall.store.campaigns import Campaigns
from voxcall.store.dialers import Dialers
from voxcall.store.dnc import DoNotCallLists
from voxcall.store.holidays import Holidays
from voxcall.store.idempotency import Idempotency
from voxcall.store.operations import Operations
from voxcall.store.projects import Projects
from voxcall.store.reports import Reports
from voxcall.store.sign_in_failures import SignInFailures
from voxcall.store.users import Users
from voxcall.store.voices import Voices
from voxcall.store.webhook_outbox import WebhookOutbox
from voxcall.store.window_waits import WindowWaits
from voxcall.store.workers import Workers


class Store(
    Projects,
    Dialers,
    Voices,
    CallQueue,
    Campaigns,
    DoNotCallLists,
    Holidays,
    WindowWaits,
    Workers,
    WebhookOutbox,
    Idempotency,
    Users,
    SignInFailures,
    Reports,
    Operations,
):
    """Projects, dialers, voices, the call queue, campaigns, do-not-call lists, holidays and
    the calling windows in force, workers, the webhook outbox, idempotency keys, console
    sign-ins and their failures, the console's reads and the operator's, in one database
    (`Store.open`)."""
