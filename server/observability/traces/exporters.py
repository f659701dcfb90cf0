"""The span exporters OTEL_TRACES_EXPORTER names, found as the SDK finds them: by entry point."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib.metadata import entry_points

from opentelemetry.sdk.trace.export import SpanExporter

from server.settings import SettingsError

GROUP = "opentelemetry_traces_exporter"
# The OTLP specification's default protocol; the Python SDK alone defaults to gRPC, which the
# extra does not install.
DEFAULT_OTLP_PROTOCOL = "http/protobuf"
_OTLP_BY_PROTOCOL = {"http/protobuf": "otlp_proto_http", "grpc": "otlp_proto_grpc"}


def exporters(names: Sequence[str], environ: Mapping[str, str]) -> list[SpanExporter]:
    """One exporter per name, each configured by its own OTEL_* variables."""
    return [_exporter_class(name, environ)() for name in names]


def _exporter_class(name: str, environ: Mapping[str, str]) -> type[SpanExporter]:
    entry_name = _otlp_entry(environ) if name == "otlp" else name
    found = entry_points(group=GROUP, name=entry_name)
    if not found:
        installed = ", ".join(sorted({"otlp", *entry_points(group=GROUP).names}))
        raise SettingsError(
            f"OTEL_TRACES_EXPORTER: no trace exporter {name!r} ({entry_name}) is installed; "
            f"installed: {installed}"
        )
    exporter: type[SpanExporter] = next(iter(found)).load()
    return exporter


def _otlp_entry(environ: Mapping[str, str]) -> str:
    protocol = (
        environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or DEFAULT_OTLP_PROTOCOL
    ).strip()
    if protocol not in _OTLP_BY_PROTOCOL:
        choices = ", ".join(_OTLP_BY_PROTOCOL)
        raise SettingsError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL must be one of {choices}, got {protocol!r}"
        )
    return _OTLP_BY_PROTOCOL[protocol]
