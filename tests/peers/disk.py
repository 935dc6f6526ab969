"""Real disk faults for tests: a small tmpfs that fills up (ENOSPC) and a read-only bind mount
(EROFS). They need root (mount); the test suite runs as root, like scripts/bootstrap."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


def _umount(path: Path) -> None:
    subprocess.run(["umount", "--lazy", str(path)], check=True, capture_output=True)


@contextlib.contextmanager
def small_disk(path: Path, size: str = "8m") -> Iterator[Path]:
    """A tmpfs of `size` mounted at `path` (made if missing) while the block runs."""
    path.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path))
    try:
        yield path
    finally:
        _umount(path)


@contextlib.contextmanager
def filled(path: Path, leave: int = 0) -> Iterator[None]:
    """Fill the file system holding `path` until at most `leave` bytes are free; free it after."""
    filler = path / "filler"
    with open(filler, "wb", buffering=0) as f:  # unbuffered: no flush left to fail at close
        stat = os.statvfs(path)
        free = stat.f_bavail * stat.f_frsize
        left = max(0, free - leave)
        with contextlib.suppress(OSError):  # ENOSPC: full already
            while left > 0 and (written := f.write(b"\0" * min(left, 65536))):
                left -= written
    try:
        yield
    finally:
        filler.unlink()


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """`path` read-only (a read-only bind mount over itself) while the block runs."""
    _mount("--bind", str(path), str(path))
    try:
        _mount("-o", "remount,ro,bind", str(path))
        yield
    finally:
        _umount(path)
