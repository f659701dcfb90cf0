"""Liveness and readiness for orchestrators."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from server.runtime import Runtime


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """503 while the database does not answer, or while its disk refuses writes (until a
    write succeeds again: a client's, or the embedded store's probe)."""
    runtime: Runtime = request.app.state.runtime
    if not await runtime.storage.ping():
        return JSONResponse({"status": "database unavailable"}, status_code=503)
    if (refusal := runtime.storage.write_refusal) is not None:
        body = {"status": "writes refused", "reason": refusal.reason, "message": refusal.message}
        return JSONResponse(body, status_code=503)
    return JSONResponse({"status": "ready"})
