"""Browsers on other origins: only those configured may call the API and read its answers."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware


def cors(origins: Sequence[str]) -> list[Middleware]:
    """No origins, no CORS headers: browsers then keep other sites' pages out."""
    if not origins:
        return []
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=list(origins),
            allow_methods=["GET", "POST", "PUT", "DELETE"],  # PUT, DELETE: graphql-sse
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Accept",
                "X-GraphQL-Event-Stream-Token",
            ],
            max_age=600,
        )
    ]
