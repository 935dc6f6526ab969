"""/openapi.json tells the truth: schemathesis sends what it describes, and what it does not,
to every operation, and every answer must be one the document lists (status, media type,
headers, body schema), with a real project, token, voice, dialer and calls behind it."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.audio.samples import encode, tone
from tests.conftest import Tenant, make_tenant
from voxcall.api.app import create_app
from voxcall.api.errors import _REFUSALS
from voxcall.api.openapi import STATUS
from voxcall.api.schemas import digits_between
from voxcall.calls.dialers import new_dialer
from voxcall.calls.service import CallOptions
from voxcall.config import Settings
from voxcall.runtime import build_services

EXAMPLES = 60  # per operation, for each generation mode

# One app for the module, built at collection: schemathesis reads the operations from it.
_DATA = Path(tempfile.mkdtemp(prefix="voxcall-openapi-"))
_SERVICES = build_services(Settings(_DATA, f"sqlite:///{_DATA / 'voxcall.db'}", 100.0))
# Schema-valid data may still be refused for what a schema cannot say: which numbers are
# valid, which ids exist, which bytes decode as audio, what balance is left; `_truthful_400`
# holds those 400s to their codes. Never a 3xx, 403 or 5xx.
_CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "400", "401", "402", "404", "409", "429"]
            }
        }
    }
)
schema = schemathesis.openapi.from_asgi(
    "/openapi.json", create_app(_SERVICES, run_worker=False), config=_CONFIG
)


@pytest.fixture(scope="module", autouse=True)
def _remove_data() -> Iterator[None]:
    yield
    _SERVICES.store.close()
    shutil.rmtree(_DATA)


@pytest.fixture(scope="module")
def tenant() -> Tenant:
    """A project with a token, and a dialer."""
    _SERVICES.store.add_dialer(new_dialer("sandbox", "sandbox", "Sandbox", {}, is_default=True))
    return make_tenant(_SERVICES, "acme")


@pytest.fixture(scope="module")
def known(tenant: Tenant) -> dict[str, str]:
    """Ids of a voice, a call and a batch of the tenant's project, by the name of the field
    or path parameter they fill."""
    audio = encode(tone(1.5, 440.0, rate=8000, channels=1), 8000, 1, "wav")
    voice = _SERVICES.voices.upload(tenant.project, audio, name="hello", filename="hello.wav")
    single, *_ = _SERVICES.calls.place(
        tenant.project, ["09121234567"], voice.id, CallOptions(), batch=False
    )
    batch = _SERVICES.calls.place(
        tenant.project, ["09121234568", "09121234569"], voice.id, CallOptions(), batch=True
    )
    return {
        "voiceId": voice.id,
        "voice_id": voice.id,
        "call_id": single.id,
        "campaign_id": str(batch[0].campaign_id),
    }


def _sometimes(value: Any) -> bool:
    """Half the generated ids are replaced by real ones, chosen by the id itself: the run
    stays deterministic, and both the found and the not-found answers are exercised."""
    return hashlib.sha256(repr(value).encode()).digest()[0] % 2 == 0


def _use_known(case: Any, known: dict[str, str]) -> None:
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return  # a negative case must stay invalid
    for name, value in (case.path_parameters or {}).items():
        if name in known and _sometimes(value):
            case.path_parameters[name] = known[name]
    if isinstance(case.body, dict) and "voiceId" in case.body and _sometimes(case.body):
        case.body["voiceId"] = known["voiceId"]


# What a schema cannot state: whether a text has anything to say ("!?" has not) is Unicode
# categories, which a pattern cannot test; whether a campaign's list holds a number it can
# call, and whether its endAt is still to come, depend on the numbers and on the clock; a
# window's start must differ from its end and not be 24:00; gather's repeatKey must differ
# from its finishOnKey.
_UNSTATED = (
    "text:",
    "phoneNumbers: the list holds no number",
    "endAt: must be later",
    "startAt: more than 7 days ago",
    "window.start: must be 00:00 to 23:59",
    "window.end: must differ from start",
    "gather: repeatKey must differ",
)


def _truthful_400(ctx: Any, response: Any, case: Any) -> bool | None:
    """Data the document calls valid is never refused as malformed (`InvalidRequest`), only
    for a reason a schema cannot state (`_UNSTATED`)."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return None
    if response.status_code == 400:
        body = response.json()
        if body["error"] == "InvalidRequest" and not body["message"].startswith(_UNSTATED):
            raise AssertionError(f"valid by the document, refused as malformed: {body}")
    return True


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(
    case: Any, tenant: Tenant, known: dict[str, str]
) -> None:
    _use_known(case, known)
    case.call_and_validate(headers=tenant.headers, additional_checks=[_truthful_400])


@given(low=st.integers(0, 10**6), span=st.integers(0, 10**6), value=st.integers(0, 3 * 10**6))
def test_digits_between_matches_exactly_the_range(low: int, span: int, value: int) -> None:
    pattern = re.compile(digits_between(low, low + span))
    inside = low <= value <= low + span
    assert bool(pattern.fullmatch(str(value))) == inside
    assert bool(pattern.fullmatch(f"00{value}")) == inside
    assert not pattern.fullmatch(f"-{value}") and not pattern.fullmatch(f" {value}")


def test_no_validation_error_that_the_api_never_sends() -> None:
    document = schema.raw_schema
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path in document["paths"].values():
        for op in path.values():
            assert "422" not in op["responses"]


def test_every_refusal_code_is_in_the_document() -> None:
    """A refusal added to errors.py is described here too (schemathesis may never reach it)."""
    assert {code: status for status, code in _REFUSALS.values()}.items() <= STATUS.items()
    described = json.dumps(schema.raw_schema["components"]["schemas"])
    for code in STATUS:
        assert f'"const": "{code}"' in described, code


@pytest.mark.usefixtures("tenant")  # for its dialer
def test_workflows_through_the_links() -> None:
    """Sequences along the document's links (upload -> download -> delete -> download, call
    -> status -> cancel, batch -> campaign): what was made is found, what was deleted is
    gone (use_after_free, ensure_resource_availability). Each run has a project of its own,
    so that a replayed run sees what the first one saw."""
    runs = itertools.count()

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            self.headers = make_tenant(_SERVICES, f"workflow-{next(runs)}").headers

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": self.headers}

    Workflow.run(
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=6,
            derandomize=True,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
    )
