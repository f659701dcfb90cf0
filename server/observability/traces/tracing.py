"""What the app holds when tracing is on: a tracer provider of its own (never the global one)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager

from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from starlette.middleware import Middleware
from strawberry.extensions import SchemaExtension

from domain.ports import TargetStore
from server.observability.traces import OperationSpan
from server.observability.traces.exporters import exporters
from server.observability.traces.operation import TracedOperation, operation_span
from server.observability.traces.propagation import CallerTrace
from server.observability.traces.store import TracedStore, system_of
from storage.backend import Storage

SERVICE = "outdial-graphql"
_UNNAMED = "unknown_service"  # the SDK's service.name when OTEL_SERVICE_NAME gives none


class Tracing:
    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer(SERVICE)

    @classmethod
    def from_environment(cls, names: Sequence[str], environ: Mapping[str, str]) -> Tracing:
        """The SDK reads OTEL_TRACES_SAMPLER*, OTEL_BSP_*, OTEL_SERVICE_NAME,
        OTEL_RESOURCE_ATTRIBUTES and each exporter its own OTEL_EXPORTER_* variables."""
        provider = TracerProvider(resource=_resource())
        for exporter in exporters(names, environ):
            provider.add_span_processor(BatchSpanProcessor(exporter))
        return cls(provider)

    def operation(self) -> AbstractContextManager[OperationSpan]:
        """The span of one GraphQL operation: every transport opens one per operation."""
        return operation_span(self.tracer)

    def extension(self) -> Callable[[], SchemaExtension]:
        """The same span for operations strawberry runs (websockets)."""
        return lambda: TracedOperation(self.tracer)

    def store(self, storage: Storage) -> TargetStore:
        return TracedStore(storage.repository, self.tracer, system_of(storage))

    def middleware(self) -> Middleware:
        return Middleware(CallerTrace)

    def close(self) -> None:
        """Exports what is left."""
        self.provider.shutdown()


def _resource() -> Resource:
    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith(_UNNAMED):
        resource = resource.merge(Resource({SERVICE_NAME: SERVICE}))
    return resource
