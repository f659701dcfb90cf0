"""Liveness and readiness for orchestrators."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from server.runtime import Runtime


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    if await runtime.storage.ping():
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "database unavailable"}, status_code=503)
