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
        first, second = ensure_demo(services), ensure_demo(services)
        first_token, voice_id = first.token, first.voice_id
        second_token, again = second.token, second.voice_id
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
        # The console's demo sign-ins: the passwords of the last start only.
        assert second.operator_password != first.operator_password
        assert services.users.sign_in("admin", first.operator_password) is None
        assert services.users.sign_in("admin", second.operator_password) is not None
        signed_in = services.users.sign_in("demo@example.com", second.user_password)
        assert signed_in is not None and signed_in.session.user is not None
        assert signed_in.session.user.project_id == project.id
        assert signed_in.session.user.is_owner
    finally:
        services.store.close()
        services.audio.shutdown()
