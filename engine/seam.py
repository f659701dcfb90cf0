"""The engine's one door to strawberry, and every private name of a library it relies on.

The rest of the engine imports graphql-core's public API and this module; only this module
imports strawberry, and only this module touches what neither library documents as public.
`PRIVATE_NAMES` lists each such name, `VERIFIED_ON` the exact versions they were checked
against: tests/engine/test_seam.py fails, naming this list, when the installed versions
differ. Where a public API does the job it is used instead (the resolver's async helpers are
graphql-core's public `GraphQLResolveInfoHelpers`; variables and arguments are coerced by the
public `get_variable_values` and `get_argument_values`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from operator import attrgetter
from typing import TYPE_CHECKING, Any, NamedTuple, TypeGuard

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    GraphQLEnumType,
    GraphQLField,
    GraphQLObjectType,
    GraphQLResolveInfoHelpers,
    GraphQLSchema,
    OperationDefinitionNode,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.execution.incremental.incremental_executor import DeliveryGroupMap
from graphql.pyutils import AwaitableOrValue, Path, gather_with_cancel
from strawberry.execution import optimized_is_awaitable
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import (
    Schema,
    StrawberryGraphQLCoreExecutionContext,
    _OperationContextAwareGraphQLResolveInfo,
)
from strawberry.schema.schema_converter import GraphQLCoreConverter, get_arguments
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.field import StrawberryField

if TYPE_CHECKING:
    from engine.prepared import Documents, Prepared

VERIFIED_ON = {"graphql-core": "3.3.2", "strawberry-graphql": "0.341.3"}


class PrivateName(NamedTuple):
    library: str
    name: str
    relied_on_for: str


PRIVATE_NAMES = (
    PrivateName(
        "graphql-core",
        "Executor.collect_and_execute_subfields(return_type, field_details_list, path, "
        "result, position_context)",
        "overridden: called once per object value after is_type_of passed; an error it "
        "raises is located by its caller; position_context is None outside @defer",
    ),
    PrivateName(
        "graphql-core",
        "Executor.collect_subfields(return_type, field_details_list) -> "
        "(grouped_field_set, new_defer_usages, forbidden)",
        "the sub-selection a plan completes, as graphql-core collects it",
    ),
    PrivateName(
        "graphql-core",
        "graphql.execution.collect_fields.FieldDetailsList, FieldDetails.node",
        "a field's nodes: their identities key the plans",
    ),
    PrivateName(
        "graphql-core",
        "graphql.execution.incremental.incremental_executor.DeliveryGroupMap",
        "the type of position_context (annotation only)",
    ),
    PrivateName(
        "strawberry-graphql",
        "GraphQLCoreConverter.from_resolver's `_get_basic_result` (recognised by __name__)",
        "a field without resolver, extensions or exception handler: "
        "`field.get_result(source, info=None, args=[], kwargs={})`, a plain attribute read",
    ),
    PrivateName(
        "strawberry-graphql",
        "strawberry.schema.schema._OperationContextAwareGraphQLResolveInfo (15 fields, "
        "built positionally)",
        "the resolve info strawberry's execution context gives a resolver",
    ),
    PrivateName(
        "strawberry-graphql",
        "GraphQLCoreConverter._get_field_exception_handlers(field)",
        "a root field with exception handlers takes graphql-core's execution",
    ),
    PrivateName(
        "strawberry-graphql",
        "strawberry.schema.schema_converter.get_arguments(field=, source=, info=, kwargs=, "
        "config=, scalar_registry=)",
        "a root field's arguments converted as strawberry's resolver wrapper converts them",
    ),
    PrivateName(
        "strawberry-graphql",
        "Info(_raw_info=, _field=) through StrawberryConfig.info_class",
        "the Info strawberry's resolver wrapper gives a resolver",
    ),
    PrivateName(
        "strawberry-graphql",
        "Schema._schema, Schema.schema_converter.scalar_registry",
        "the graphql-core schema and scalars behind a strawberry schema",
    ),
    PrivateName(
        "strawberry-graphql",
        'GraphQLField.extensions["strawberry-definition"] '
        "(GraphQLCoreConverter.DEFINITION_BACKREF), StrawberryObjectDefinition.origin",
        "the StrawberryField of a field, the Python class of an object type",
    ),
    PrivateName(
        "strawberry-graphql",
        "GraphQLEnumType.wrapped_cls (strawberry's enum types)",
        "the Python enum whose members an enum field's values are",
    ),
    PrivateName(
        "strawberry-graphql",
        "StrawberryGraphQLCoreExecutionContext(operation_extensions=...)",
        "the execution context the engine's executor extends",
    ),
)

_DEFINITION = GraphQLCoreConverter.DEFINITION_BACKREF
_BASIC_RESOLVER = "_get_basic_result"

is_awaitable: Callable[[Any], TypeGuard[Awaitable[Any]]] = optimized_is_awaitable  # type: ignore[assignment]
StrawberrySchema = Schema
Read = Callable[[Any], Any]
__all__ = ["DeliveryGroupMap", "FieldDetailsList", "StrawberrySchema", "is_awaitable"]


class ExecutorBase(StrawberryGraphQLCoreExecutionContext):
    """strawberry's execution context, with the one step of graphql-core's executor the engine
    replaces: completing an object's sub-selection (`complete_object`, None to leave it to
    graphql-core)."""

    def collect_and_execute_subfields(
        self,
        return_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        path: Path,
        result: Any,
        position_context: DeliveryGroupMap | None,
    ) -> AwaitableOrValue[dict[str, Any]]:
        if position_context is None:
            completed = self.complete_object(return_type, field_details_list, result)
            if completed is not None:
                return completed
        return super().collect_and_execute_subfields(
            return_type, field_details_list, path, result, position_context
        )

    def complete_object(
        self, object_type: GraphQLObjectType, details: FieldDetailsList, source: Any
    ) -> dict[str, Any] | None:
        return None

    def subfields(
        self, object_type: GraphQLObjectType, details: FieldDetailsList
    ) -> dict[str, FieldDetailsList] | None:
        """The sub-selection of `object_type`, as graphql-core collects it; None under @defer."""
        grouped_field_set, new_defer_usages, _ = self.collect_subfields(object_type, details)
        return None if new_defer_usages else dict(grouped_field_set)


def nodes_of(details: FieldDetailsList) -> tuple[FieldNode, ...]:
    return tuple(field_details.node for field_details in details)


def plain_reader(field_def: GraphQLField) -> tuple[Read, str | None] | None:
    """For a field strawberry resolves by reading its source (its basic resolver): how it
    reads, and the attribute when it is a plain `getattr`; None for any other field."""
    field = field_def.extensions.get(_DEFINITION)
    basic = getattr(field_def.resolve, "__name__", None) == _BASIC_RESOLVER
    if not basic or not isinstance(field, StrawberryField):
        return None
    resolve, name = field.default_resolver, field.python_name
    if resolve is getattr:
        return attrgetter(name), name
    return (lambda source: resolve(source, name)), None


def plain_origin(object_type: GraphQLObjectType) -> type | None:
    """The Python class of a strawberry object type, when its exact instances are its values."""
    definition = object_type.extensions.get(_DEFINITION)
    if object_type.is_type_of is not None or not isinstance(definition, StrawberryObjectDefinition):
        return None
    origin = definition.origin
    return origin if isinstance(origin, type) else None


def enum_class(enum_type: GraphQLEnumType) -> Any:
    """The Python enum behind a strawberry enum type (None for others)."""
    return getattr(enum_type, "wrapped_cls", None)


@dataclass(frozen=True, slots=True)
class RootCall:
    """What a root resolver's call needs beyond its field: the request's parts."""

    operation: OperationDefinitionNode
    fragments: dict[str, FragmentDefinitionNode]
    variables: dict[str, Any]
    context: object
    extensions: dict[str, Any] | None


RootResolver = Callable[[RootCall, list[FieldNode], Path, dict[str, Any]], Any]


def root_resolver(
    schema: Schema, root_type: GraphQLObjectType, field_def: GraphQLField
) -> RootResolver | None:
    """A root field's resolver, called as strawberry's resolver wrapper calls it; None for a
    field the wrapper does more for (field extensions, permissions among them, or exception
    handlers) or that has no resolver."""
    field = field_def.extensions.get(_DEFINITION)
    if not isinstance(field, StrawberryField) or field.base_resolver is None:
        return None
    if field.extensions or schema.schema_converter._get_field_exception_handlers(field):
        return None
    graphql_schema = schema._schema
    config = schema.config
    scalars = schema.schema_converter.scalar_registry
    info_class = config.info_class

    def resolve(
        call: RootCall, nodes: list[FieldNode], path: Path, arguments: dict[str, Any]
    ) -> Any:
        raw_info = _OperationContextAwareGraphQLResolveInfo(
            nodes[0].name.value,
            nodes,
            field_def.type,
            root_type,
            path,
            graphql_schema,
            call.fragments,
            None,  # root value
            call.operation,
            call.variables,
            call.context,
            optimized_is_awaitable,
            None,  # abort signal
            ASYNC_HELPERS,
            call.extensions,  # type: ignore[arg-type]  # None, as strawberry passes it
        )
        info = info_class(_raw_info=raw_info, _field=field)  # type: ignore[arg-type]
        args, kwargs = get_arguments(
            field=field,
            source=None,
            info=info,
            kwargs=arguments,
            config=config,
            scalar_registry=scalars,
        )
        return field.get_result(None, info=info, args=args, kwargs=kwargs)

    return resolve


def graphql_schema_of(schema: Schema) -> GraphQLSchema:
    return schema._schema


# The executor's async helpers (Executor.gather_async_work, track_async_work), without the
# end-of-work hook, which the engine's callers do not set.
def _gather(values: Sequence[Any]) -> Any:
    return gather_with_cancel(*values)


_background: set[asyncio.Future[Any]] = set()


def _track(values: Sequence[Any]) -> None:
    awaitables = [value for value in values if optimized_is_awaitable(value)]
    if awaitables:
        future = asyncio.gather(*awaitables, return_exceptions=True)
        _background.add(future)
        future.add_done_callback(_background.discard)


ASYNC_HELPERS = GraphQLResolveInfoHelpers(gather=_gather, track=_track)


# The plans of the document strawberry is executing (websockets): set around its execution
# by PreparedDocuments, read when the executor is built.
executing_plans: ContextVar[Any] = ContextVar("executing_plans", default=None)


class PreparedDocuments(SchemaExtension):
    """Strawberry's own execution (websockets) parses and validates through `Documents`, and
    executes with the prepared document's plans."""

    def __init__(self, documents: Documents) -> None:
        self._documents = documents
        self._prepared: Prepared | None = None

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is None and context.query:
            prepared = self._documents.get(context.query)
            if prepared.document is not None:
                self._prepared = prepared
                context.graphql_document = prepared.document
            elif self._documents.max_tokens is not None:  # strawberry reports it its own way
                context.parse_options = {"max_tokens": self._documents.max_tokens}
        yield

    def on_validate(self) -> Iterator[None]:
        prepared = self._current()
        if prepared is not None:
            self.execution_context.pre_execution_errors = list(prepared.errors)
        yield

    def on_execute(self) -> Iterator[None]:
        prepared = self._current()
        token = executing_plans.set(prepared.plans if prepared is not None else None)
        try:
            yield
        finally:
            executing_plans.reset(token)

    def _current(self) -> Prepared | None:
        prepared = self._prepared
        if prepared is not None and self.execution_context.graphql_document is prepared.document:
            return prepared
        return None
