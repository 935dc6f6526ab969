"""Query strings hold only the parameters an operation declares: /openapi.json describes each
operation's, and a parameter it does not know (a typo, `?fromat=original`) is refused rather
than silently ignored."""

from __future__ import annotations

from fastapi import Request

from voxcall.api.errors import ApiError


def refuse_unknown_query(request: Request, *names: str) -> None:
    """400 `InvalidRequest` naming the first parameter not in `names`."""
    unknown = sorted(set(request.query_params) - set(names))
    if unknown:
        raise ApiError(400, "InvalidRequest", f"{unknown[0]}: not a parameter of this operation")
