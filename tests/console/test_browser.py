"""The console in a real browser: Debian's chromium driven by Playwright against a
`voxcall serve --demo` started as the README does. Every page in English and Persian, with a
screenshot of each (test-artifacts/console/) and axe-core finding no serious violation; a
voice uploaded and a call sent through the pages; another project's URLs answer 404."""

from __future__ import annotations

import io
import math
import re
import struct
import wave
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, FilePayload, Page, sync_playwright

from tests.e2e.server import Server, voxcall_json

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip
RUN_AXE = """() => axe.run(document, {resultTypes: ["violations"]}).then(r =>
  r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                          nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 3)})))"""

pytestmark = pytest.mark.slow  # chromium comes with scripts/bootstrap --dev: no skipping


class Console:
    """The server, its demo sign-ins, and a browser of it."""

    def __init__(self, server: Server, browser: Browser) -> None:
        self.server = server
        self.browser = browser
        log = server.log()
        self.operator = _sign_in_of(log, "operator")
        self.user = _sign_in_of(log, "project user")
        self.csp_errors: list[str] = []

    def page(self, language: str = "en") -> Page:
        context = self.browser.new_context(
            base_url=self.server.base, locale="fa-IR" if language == "fa" else "en-US"
        )
        context.add_init_script(path=str(AXE))  # beside the page's CSP, as DevTools would
        page = context.new_page()
        page.on(
            "console",
            lambda m: (
                self.csp_errors.append(m.text) if "Content Security Policy" in m.text else None
            ),
        )
        return page


def _sign_in_of(log: str, who: str) -> tuple[str, str]:
    found = re.search(rf"{who}:\s+(\S+) / (\S+)", log)
    assert found is not None, log
    return found.group(1), found.group(2)


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    data = tmp_path_factory.mktemp("console") / "data"
    server = Server(data, speed=10, extra=("--demo",))
    data.mkdir(parents=True)
    server.start()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            try:
                yield Console(server, browser)
            finally:
                browser.close()
    finally:
        server.stop()


def _wav(seconds: float = 1.0) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        frames = (int(8000 * math.sin(2 * math.pi * 440 * i / 8000)) for i in range(8000))
        w.writeframes(b"".join(struct.pack("<h", f) for f in frames) * int(seconds))
    return out.getvalue()


def _sign_in(page: Page, login: tuple[str, str]) -> None:
    page.goto("/sign-in")
    page.fill("#login", login[0])
    page.fill("#password", login[1])
    page.click("form[action='/sign-in'] button")
    page.wait_for_url(re.compile(r"/(overview|operator/projects)$"))


def _check(page: Page, name: str) -> None:
    """A screenshot of the page, and no serious or critical accessibility violation."""
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    violations = page.evaluate(RUN_AXE)
    serious = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert serious == [], f"{name}: {serious}"


def test_a_project_user_goes_through_every_page(console: Console) -> None:
    page = console.page("en")
    _sign_in(page, console.user)
    assert page.get_attribute("html", "dir") == "ltr"
    _check(page, "en-overview")

    # A voice, uploaded through the form.
    page.goto("/voices")
    page.set_input_files(
        "#file", files=FilePayload(name="hello.wav", mimeType="audio/wav", buffer=_wav())
    )
    page.fill("#voice-name", "browser hello")
    page.click("form[action='/voices'] button[type=submit]")
    page.wait_for_url(re.compile(r"/voices\?done=uploaded$"))
    assert page.locator("td", has_text="browser hello").count() == 1
    _check(page, "en-voices")

    # A call to a sandbox number that answers, sent through the form.
    page.goto("/send")
    _check(page, "en-send")
    page.fill("#numbers", "09121234567")
    page.select_option("#voice", label="browser hello")
    page.click("form[action='/send'] button[type=submit]")
    page.wait_for_url(re.compile(r"/calls/[0-9a-f]{32}$"))
    call_url = page.url
    for _ in range(60):  # the sandbox answers in about 0.2 s at speed 10
        if page.locator(".s-normal").count():
            break
        page.wait_for_timeout(250)
        page.reload()
    assert page.locator(".s-normal").count() == 1
    _check(page, "en-call")

    # The overview refreshes its calls in progress by itself.
    page.goto("/overview")
    with page.expect_response(re.compile(r"/overview/live$")):
        pass
    assert page.locator("#timeline canvas").count() >= 1

    for name in ("calls", "developers", "users", "billing"):
        page.goto(f"/{name}")
        _check(page, f"en-{name}")
    with page.expect_download() as download:
        page.goto("/calls")
        page.click("a[href^='/calls.csv']")
    rows = Path(download.value.path()).read_text().splitlines()
    assert rows[0].startswith("id,requestDate,phoneNumber") and len(rows) == 2

    # Persian, chosen with the switch: right to left, Persian digits, Solar Hijri dates.
    page.click("button[name=language][value=fa]")
    page.wait_for_load_state()
    assert page.get_attribute("html", "dir") == "rtl"
    for name in ("overview", "calls", "send", "voices", "developers", "users", "billing"):
        page.goto(f"/{name}")
        assert page.get_attribute("html", "lang") == "fa"
        _check(page, f"fa-{name}")
    page.goto(call_url)
    text = page.inner_text("main")
    assert re.search(r"۱۴[۰-۹]{2}/[۰-۹]{2}/[۰-۹]{2}", text), text
    assert "۰۹۱۲۱۲۳۴۵۶۷" in text and not re.search(r"20[0-9]{2}-[0-9]{2}-", text)
    _check(page, "fa-call")
    assert console.csp_errors == []


def test_a_browser_in_persian_gets_persian_first(console: Console) -> None:
    page = console.page("fa")
    page.goto("/sign-in")
    assert page.get_attribute("html", "dir") == "rtl"
    _check(page, "fa-sign-in")
    english = console.page("en")
    english.goto("/sign-in")
    assert english.get_attribute("html", "dir") == "ltr"
    _check(english, "en-sign-in")


def test_another_projects_urls_are_not_found(console: Console) -> None:
    other = voxcall_json(console.server.data, "project", "create", "other", "--balance", "1000")
    with httpx.Client(
        base_url=console.server.base + "/api/v2",
        headers={"Authorization": f"Bearer {other['token']}"},
    ) as api:
        voice = api.post("/file/voice", files={"file": ("a.wav", _wav())}).json()["result"]
        call = api.post(
            "/voice/single", json={"phoneNumber": "09121234567", "voiceId": voice["id"]}
        ).json()["result"]
    page = console.page("en")
    _sign_in(page, console.user)
    for path in (f"/calls/{call['id']}", f"/voices/{voice['id']}/audio", f"/calls/{'0' * 32}"):
        answer = page.goto(path)
        assert answer is not None and answer.status == 404, path
    _check(page, "en-not-found")
    persian = console.page("fa")
    _sign_in(persian, console.user)
    answer = persian.goto(f"/calls/{call['id']}")
    assert answer is not None and answer.status == 404
    _check(persian, "fa-not-found")
    page.goto("/calls?number=09121234567")
    assert page.locator(f"a[href='/calls/{call['id']}']").count() == 0


def test_the_operator_sets_up_a_project_whose_user_runs_a_campaign(console: Console) -> None:
    """console.md's walk: the operator creates a project and its user; that user starts a
    campaign from a CSV of sandbox numbers, pauses and resumes it, watches it reach 100 %
    without reloading, and exports its report."""
    admin = console.page("en")
    _sign_in(admin, console.operator)
    assert admin.locator("td", has_text="demo").count() >= 1
    _check(admin, "en-operator-projects")
    admin.fill("#p-name", "browser co")
    admin.fill("#p-opening", "100000")
    admin.click("form[action='/operator/projects'] button[type=submit]")
    admin.wait_for_url(re.compile(r"/operator/projects/[0-9a-f]{32}\?done=saved$"))
    project_url = admin.url.split("?")[0]
    admin.fill("#u-email", "staff@browser.test")
    admin.fill("#u-password", "a long browser password")
    admin.click("form[action$='/users'] button[type=submit]")
    admin.wait_for_url(re.compile(r"done=user-added$"))
    assert admin.locator("td", has_text="staff@browser.test").count() == 1
    admin.fill("#w-window", "sat-fri 00:00-24:00 Asia/Tehran")  # always open, but on holidays
    admin.click("form[action$='/window'] button[type=submit]")
    admin.wait_for_url(re.compile(r"done=saved$"))
    assert admin.input_value("#w-window") == "sat-fri 00:00-24:00 Asia/Tehran"
    _check(admin, "en-operator-project")
    admin.goto("/operator/dialers")
    with admin.expect_response(re.compile(r"/operator/dialers/live$")):
        pass  # the channels in use refresh by themselves
    assert admin.locator(".busy").count() >= 1  # the sandbox's
    _check(admin, "en-operator-dialers")
    admin.goto("/operator/dialers/sandbox")
    _check(admin, "en-operator-dialer")
    admin.goto("/operator/system")
    admin.fill("#h-day", "2027-03-21")  # Nowruz: not today, the campaign below runs
    admin.click("form[action='/operator/holidays/add'] button[type=submit]")
    admin.wait_for_url(re.compile(r"/operator/system\?done=saved$"))
    assert admin.locator("td", has_text="2027-03-21").count() == 1
    _check(admin, "en-operator-system")
    admin.goto("/operator/dnc")
    _check(admin, "en-operator-dnc")
    answer = admin.goto("/overview")
    assert answer is not None and answer.status == 404

    user = console.page("en")
    _sign_in(user, ("staff@browser.test", "a long browser password"))
    user.goto("/voices")
    user.set_input_files(
        "#file", files=FilePayload(name="promo.wav", mimeType="audio/wav", buffer=_wav())
    )
    user.fill("#voice-name", "promo")
    user.click("form[action='/voices'] button[type=submit]")
    user.wait_for_url(re.compile(r"/voices\?done=uploaded$"))
    numbers = [f"0912555{i:04d}" for i in range(10, 18)]
    listing = "phone\n" + "\n".join(numbers) + "\n" + numbers[0] + "\nnot a number\n"
    user.goto("/campaigns/new")
    _check(user, "en-campaign-new")
    user.fill("#c-name", "spring sale")
    user.set_input_files(
        "#c-file", files=FilePayload(name="list.csv", mimeType="text/csv", buffer=listing.encode())
    )
    user.select_option("#c-voice", label="promo")
    user.fill("#c-pace", "60")  # one a second: time to pause it first
    user.click("form[action='/campaigns'] button[type=submit]")
    user.wait_for_url(re.compile(r"/campaigns/[0-9a-f]{32}$"))
    campaign_url = user.url
    user.click("form[action$='/pause'] button")
    user.wait_for_url(re.compile(r"done=paused$"))
    # the live part may be swapped by a poll at any moment: wait for it rather than read once
    user.wait_for_selector('[data-status="PAUSED"]', timeout=10_000)
    user.click("form[action$='/resume'] button")
    user.wait_for_url(re.compile(r"done=resumed$"))
    # From here on the page only polls its live part: no reload, no navigation.
    user.wait_for_selector('.share[data-share="100.0"]', timeout=90_000)
    user.wait_for_selector('[data-status="DONE"]', timeout=30_000)  # closed once all are final
    assert user.locator("td", has_text="not a number").count() == 1  # skipped, and why
    _check(user, "en-campaign")
    with user.expect_download() as download:
        user.click("a[href$='/report.csv']")
    rows = Path(download.value.path()).read_text().splitlines()
    assert rows[0].startswith("phoneNumber,status,statusCode")
    assert [r.split(",")[:2] for r in rows[1:]] == [[n, "NORMAL"] for n in numbers]
    user.goto("/campaigns")
    assert user.locator("progress").count() == 1
    _check(user, "en-campaigns")
    user.goto("/dnc")
    user.fill("#n-numbers", "09125550099")
    user.click("form[action='/dnc/add'] button[type=submit]")
    assert user.locator("td", has_text="09125550099").count() == 1
    _check(user, "en-dnc")

    persian = console.page("fa")
    _sign_in(persian, ("staff@browser.test", "a long browser password"))
    for path, name in ((campaign_url, "campaign"), ("/campaigns", "campaigns"),
                       ("/campaigns/new", "campaign-new"), ("/dnc", "dnc")):  # fmt: skip
        persian.goto(path)
        assert persian.get_attribute("html", "dir") == "rtl"
        _check(persian, f"fa-{name}")
    persian_admin = console.page("fa")
    _sign_in(persian_admin, console.operator)
    for name in ("projects", "dialers", "system", "dnc"):
        persian_admin.goto(f"/operator/{name}")
        assert persian_admin.get_attribute("html", "dir") == "rtl"
        _check(persian_admin, f"fa-operator-{name}")
    persian_admin.goto("/operator/system")
    assert persian_admin.locator("td", has_text="۱۴۰۶/۰۱/۰۱").count() == 1  # the holiday
    for path, name in ((project_url, "project"), ("/operator/dialers/sandbox", "dialer")):
        persian_admin.goto(path)
        assert persian_admin.get_attribute("html", "dir") == "rtl"
        _check(persian_admin, f"fa-operator-{name}")
    assert console.csp_errors == []
