"""OpenTelemetry traces, the optional extra `outdial-graphql[otel]`.

Off unless OTEL_TRACES_EXPORTER names an exporter (`none` is off, as is OTEL_SDK_DISABLED=true);
only then is OpenTelemetry imported, so serving without the extra costs nothing. Everything else
(endpoint, headers, sampler, batching, resource, propagators) is the SDK's to read.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol

from server.settings import SettingsError

if TYPE_CHECKING:
    from server.observability.traces.tracing import Tracing

EXPORTER_VARIABLE = "OTEL_TRACES_EXPORTER"

TracingFactory = Callable[[], "Tracing | None"]


class OperationSpan(Protocol):
    """The span of one GraphQL operation, told how it ended (name and type may come late)."""

    def finished(self, *, name: str | None, kind: str, outcome: str) -> None: ...


class OperationTracing(Protocol):
    def operation(self) -> AbstractContextManager[OperationSpan]:
        """The span of one GraphQL operation: every transport opens one per operation."""
        ...


class _NoSpan:
    def finished(self, *, name: str | None, kind: str, outcome: str) -> None:
        pass


NO_SPAN: OperationSpan = _NoSpan()


def exporter_names(environ: Mapping[str, str]) -> list[str]:
    """The exporters OTEL_TRACES_EXPORTER names; none when tracing is off."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    listed = (name.strip() for name in environ.get(EXPORTER_VARIABLE, "").split(","))
    return [name for name in listed if name and name.lower() != "none"]


def from_environment(environ: Mapping[str, str] = os.environ) -> Tracing | None:
    """Tracing as the OTEL_* variables configure it, or None when they leave it off."""
    names = exporter_names(environ)
    if not names:
        return None
    try:
        from server.observability.traces.tracing import Tracing
    except ModuleNotFoundError as missing:
        if not (missing.name or "").startswith("opentelemetry"):
            raise
        raise SettingsError(
            f"{EXPORTER_VARIABLE}={','.join(names)} needs OpenTelemetry: "
            "install outdial-graphql[otel]"
        ) from None
    return Tracing.from_environment(names, environ)
