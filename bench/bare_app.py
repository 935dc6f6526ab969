"""The intake baseline: a bare FastAPI app that answers `POST /api/v2/voice/single` with the
same JSON as voxcall (a WAITING call object) and stores nothing.

It reads the body into a model of the same fields and wants a Bearer token, so that the
difference to voxcall is what voxcall does beyond HTTP and JSON: authentication against the
database, validation of the number and voice, routing, the reservation and the durable insert.
Served exactly as `voxcall serve` serves its app (uvicorn.run, same options).

    python -m bench.bare_app --port 8081
"""

from __future__ import annotations

import argparse
import time
import uuid
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict


class SingleCall(BaseModel):
    model_config = ConfigDict(extra="ignore")

    phoneNumber: str
    voiceId: str
    retryCount: int = 1
    serverId: str | None = None
    retryInterval: int | None = None
    timeToLive: int = 14400


def create_app() -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None)

    @app.post("/api/v2/voice/single")
    async def single(request: Request, body: SingleCall) -> Any:
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return JSONResponse(
                {"result": None, "error": "Unauthorized", "message": "Authorization"}, 401
            )
        return {
            "result": {
                "id": uuid.uuid4().hex,
                "phoneNumber": body.phoneNumber,
                "status": "WAITING",
                "statusCode": 0,
                "billSec": 0,
                "requestDate": int(time.time()),
                "executionDate": 0,
                "price": 0.0,
                "campaignId": None,
                "attempts": 0,
            },
            "error": None,
        }

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # The options of `voxcall serve` (src/voxcall/cli.py), so that the server is the same.
    uvicorn.run(
        create_app(),
        host=args.host,
        port=args.port,
        log_level="warning",
        timeout_graceful_shutdown=35,
    )


if __name__ == "__main__":
    main()
