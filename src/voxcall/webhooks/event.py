"""The webhook event of a final call, as its receiver gets it (api.md §6). A pure function.

The outbox keeps only which call an event is for; the body is rendered from the final call
at each delivery, and a final call never changes, so every delivery sends the same bytes.
"""

from __future__ import annotations

import json

from voxcall.billing.money import toman
from voxcall.domain.calls import Call


def event_body(call: Call) -> bytes:
    """The JSON body of `call`'s one event: Bitel's fields, in Bitel's order, then
    api.md §11's `digits` and `answeredBy`, compact."""
    payload = {
        "requestId": call.id,
        "campaignId": call.campaign_id,
        "balanceSubtracted": toman(call.price_milli),
        "cause": call.status.name,
        "statusCode": call.status.code,
        "billSec": call.bill_sec,
        "number": call.national_number,
        "requestDate": call.request_date,
        "executionDate": call.execution_date,
        "digits": call.digits,
        "answeredBy": call.answered_by.value if call.answered_by is not None else None,
    }
    return json.dumps(payload, separators=(",", ":")).encode()
