"""The event body: Bitel's fields, byte for byte, from the final call alone."""

from __future__ import annotations

import dataclasses
import json

from voxcall.billing.money import parse_toman
from voxcall.domain.calls import Call, CallStatus, Phase
from voxcall.domain.interaction import AnsweredBy
from voxcall.webhooks.event import event_body

NORMAL = Call(
    id="69b9e312e3b64b3880760639f5dfdffa",
    project_id="p1",
    campaign_id=None,
    voice_id="v1",
    national_number="09121234567",
    e164="+989121234567",
    dialer_id="d1",
    status=CallStatus.NORMAL,
    phase=Phase.FINAL,
    retry_count=0,
    retry_interval=None,
    request_date=1764190000,
    expires_at=1764276400,
    next_attempt_at=1764190000.0,
    execution_date=1764190001,
    attempts=1,
    bill_sec=3,
    price_milli=parse_toman("300"),
    reserved_milli=0,
    cause="",
)


def test_the_readme_example() -> None:
    assert event_body(NORMAL) == (
        b'{"requestId":"69b9e312e3b64b3880760639f5dfdffa","campaignId":null,'
        b'"balanceSubtracted":300.0,"cause":"NORMAL","statusCode":1,"billSec":3,'
        b'"number":"09121234567","requestDate":1764190000,"executionDate":1764190001,'
        b'"digits":"","answeredBy":null}'
    )


def test_an_expired_call_of_a_campaign() -> None:
    expired = dataclasses.replace(
        NORMAL,
        campaign_id="c" * 32,
        status=CallStatus.EXPIRED,
        bill_sec=0,
        price_milli=0,
        execution_date=0,
    )
    assert json.loads(event_body(expired)) == {
        "requestId": NORMAL.id,
        "campaignId": "c" * 32,
        "balanceSubtracted": 0.0,
        "cause": "EXPIRED",
        "statusCode": 10,
        "billSec": 0,
        "number": "09121234567",
        "requestDate": 1764190000,
        "executionDate": 0,
        "digits": "",
        "answeredBy": None,
    }


def test_keys_and_who_answered() -> None:
    answered = dataclasses.replace(NORMAL, digits="1#", answered_by=AnsweredBy.MACHINE)
    assert event_body(answered).endswith(b',"digits":"1#","answeredBy":"machine"}')


def test_a_price_to_the_milli_toman_is_exact() -> None:
    body = event_body(dataclasses.replace(NORMAL, price_milli=parse_toman("34.201")))
    assert b'"balanceSubtracted":34.201,' in body
