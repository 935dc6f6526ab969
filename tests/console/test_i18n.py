"""The console's languages: every message has its Persian, the browser's choice, digits and
Solar Hijri dates."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from voxcall.console import i18n
from voxcall.console.views import DONE
from voxcall.console.web import TEMPLATES, environment


def _messages() -> set[str]:
    env = environment("en")
    found = {
        message
        for template in TEMPLATES.glob("*.html")
        for _, _, message in env.extract_translations(template.read_text("utf-8"))
    }
    return found | set(i18n.RUNTIME_MESSAGES) | set(DONE.values())


def test_every_message_has_a_persian_translation() -> None:
    messages = _messages()
    assert len(messages) > 100
    missing = sorted(m for m in messages if not i18n.catalog("fa").get(m))
    assert missing == []
    unused = sorted(set(i18n.catalog("fa")) - messages)
    assert unused == []


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("fa-IR,fa;q=0.9,en-US;q=0.8", "fa"),
        ("en-US,en;q=0.9,fa;q=0.8", "en"),
        ("de-DE,fa;q=0.5,en;q=0.4", "fa"),
        ("de-DE", "en"),
        ("en;q=0.2, fa;q=0.7", "fa"),
        ("fa;q=0, en", "en"),
        ("fa;q=bogus, en", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_the_language_follows_the_browser(header: str | None, language: str) -> None:
    assert i18n.negotiate(header) == language


def test_numbers_and_dates() -> None:
    tehran = ZoneInfo("Asia/Tehran")
    moment = 1_742_500_000  # 2025-03-20 19:46:40 UTC: 23:16:40 in Tehran, 1403-12-30
    assert i18n.number("fa", 1234567) == "۱٬۲۳۴٬۵۶۷"
    assert i18n.number("en", 1234567) == "1,234,567"
    assert i18n.number("fa", 12.5, 1) == "۱۲٫۵"
    assert i18n.percent("fa", 0.425) == "۴۲٫۵٪"
    assert i18n.percent("en", None) == "-"
    assert i18n.when("en", moment, tehran) == "2025-03-20 23:16"
    assert i18n.when("fa", moment, tehran) == "۱۴۰۳/۱۲/۳۰ ۲۳:۱۶"
    assert i18n.when("fa", moment + 3600, tehran, seconds=True) == "۱۴۰۴/۰۱/۰۱ ۰۰:۱۶:۴۰"  # Nowruz
    assert i18n.day("en", moment, ZoneInfo("UTC")) == "2025-03-20"
