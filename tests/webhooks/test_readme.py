"""The signature check the README gives receivers works against what voxcall sends."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from voxcall.webhooks.signing import new_secret, sign

README = Path(__file__).parents[2] / "README.md"


def test_readme_verification_example() -> None:
    (example,) = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(example.strip().splitlines()) <= 10
    namespace: dict[str, Any] = {}
    exec(example, namespace)
    verify = namespace["verify"]
    secret = new_secret()
    body = b'{"requestId":"69b9e312e3b64b3880760639f5dfdffa","cause":"NORMAL"}'
    header = sign(body, secret, int(time.time()))
    assert verify(body, header, secret)
    assert not verify(body + b" ", header, secret)
    assert not verify(body, header, new_secret())
    assert not verify(body, sign(body, secret, int(time.time()) - 3600), secret)
