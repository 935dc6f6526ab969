"""The settings cache alone: entries hold for one version, and only the newest is kept."""

from __future__ import annotations

from voxcall.calls.dialers import new_dialer
from voxcall.domain.projects import Project
from voxcall.domain.voices import Voice
from voxcall.store import settings_cache
from voxcall.store.settings_cache import SettingsCache

ACME = Project("p1", "acme", 10, None, ("IR",), 0)
VOICE = Voice("v1", "p1", "v", "wav", 1, 2.0, 0)


def test_entries_hold_for_the_version_they_were_read_at() -> None:
    cache = SettingsCache()
    assert cache.project("h") is None
    cache.keep_project(3, "h", ACME)
    cache.keep_voice(3, VOICE)
    cache.keep_dialers(3, [])
    assert cache.project("h") == (ACME, 3)
    assert cache.voice("p1", "v1", 3) == VOICE
    assert cache.voice("p1", "v1", 2) is None  # asked for another version
    assert cache.voice("p2", "v1", 3) is None  # another project's voice id
    assert cache.enabled_dialers(3) == []
    assert cache.enabled_dialers(4) is None


def test_a_newer_version_drops_everything_older() -> None:
    cache = SettingsCache()
    cache.keep_project(3, "h", ACME)
    cache.keep_voice(3, VOICE)
    dialer = new_dialer("d", "sandbox", "d", {})
    cache.keep_dialers(4, [dialer])
    assert cache.project("h") is None
    assert cache.voice("p1", "v1", 4) is None
    assert cache.enabled_dialers(4) == [dialer]


def test_reads_older_than_the_cache_are_not_kept() -> None:
    """A slow reader that read version 3 after another read version 4 must not put its
    (possibly older) rows in beside version 4's."""
    cache = SettingsCache()
    cache.keep_dialers(4, [])
    cache.keep_project(3, "h", ACME)
    assert cache.project("h") is None
    assert cache.version == 4


def test_the_cache_is_bounded() -> None:
    cache = SettingsCache()
    for i in range(settings_cache.MAX_ENTRIES + 5):
        cache.keep_project(1, f"h{i}", ACME)
    assert cache.project(f"h{settings_cache.MAX_ENTRIES + 4}") == (ACME, 1)
    assert cache.project("h0") is None
    assert len(cache._projects) <= settings_cache.MAX_ENTRIES
