"""`serve --demo`'s set-up, in-process: what it makes once and what it makes every start."""

from __future__ import annotations

from pathlib import Path

from voxcall.cli.serve import ensure_demo
from voxcall.config import Settings
from voxcall.runtime import build_services
from voxcall.tokens import hash_token


def test_the_demo_is_made_once_and_a_token_each_start(tmp_path: Path) -> None:
    services = build_services(Settings.load(tmp_path / "data"))
    try:
        first_token, voice_id = ensure_demo(services)
        second_token, again = ensure_demo(services)
        assert again == voice_id and second_token != first_token
        (dialer,) = services.store.list_dialers()
        assert (dialer.id, dialer.driver, dialer.is_default) == ("sandbox", "sandbox", True)
        (project,) = services.store.list_projects()
        assert project.name == "demo" and project.allowed_regions == ("IR",)
        for token in (first_token, second_token):
            found = services.store.project_for_token(hash_token(token))
            assert found is not None and found.id == project.id
        (voice,) = services.voices.list(project)
        assert (voice.id, voice.name) == (voice_id, "welcome")
    finally:
        services.store.close()
        services.audio.shutdown()
