import pytest

from voxcall.domain.voices import fits_quota


@pytest.mark.parametrize(
    ("used", "adding", "fits"),
    [(0, 10_000, True), (6_000, 4_000, True), (6_001, 4_000, False), (10_000, 1, False)],
)
def test_voice_files_fit_up_to_the_quota_itself(used: int, adding: int, fits: bool) -> None:
    assert fits_quota(used, adding, 10_000) is fits
