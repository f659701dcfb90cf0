"""An operation of one root field, run without graphql-core's executor once its plan is known.

Why: for `outdialtarget(id)` the executor's fixed cost per request (`Executor.build`, the
resolve info, paths, the completion coroutines, incremental delivery's bookkeeping) and
strawberry's resolver wrapper took more time than the resolver and the object's completion
together (bench/README.md), and the same holds for a dialer's claim and report. For a query
or mutation whose root is one field, the same steps run here once each, with graphql-core's
and strawberry's own functions:
- the variables coerced by graphql-core (`get_variable_values`), the field's arguments by
  graphql-core (`get_argument_values`) and converted by strawberry (`get_arguments`);
- the resolver called as strawberry calls it, with a strawberry `Info` over the resolve
  info strawberry's execution context builds;
- the value completed by the plan graphql-core's first execution of the document made
  (engine.fast_execution), under the field's own list and non-null wrappers;
- a resolver's error answered as graphql-core answers it for a root field: located at the
  field, which is null (or the data, when the field is non-null).

Anything else gives way to the full execution, which answers with graphql-core's own data
and errors. Before the resolver runs: a first request (no plan yet), variables or arguments
that do not coerce. After it: a value the plan does not vouch for, which graphql-core then
completes from that value (`Resolved`, as middleware answering for the root field), so the
resolver, a write among them, runs once.

Fields with field extensions (permissions among them) or exception handlers, introspection,
directives and several root fields (which the executor runs together, so their loads share a
batch) always take the full execution. No resolve middleware runs on the HTTP path
(server/http/execution.py), so none is skipped here. The resolve info carries no async helpers
(the executor's): a resolver that uses them gives way.

It relies on strawberry 0.341's `_OperationContextAwareGraphQLResolveInfo` (the resolve info
its execution context builds) and `GraphQLCoreConverter._get_field_exception_handlers`, and on
the plan keys of engine.fast_execution; tests/engine/test_fast_execution.py answers every operation
both ways.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from inspect import isawaitable
from typing import TYPE_CHECKING, Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    OperationDefinitionNode,
    OperationType,
    located_error,
)
from graphql.execution.values import get_argument_values, get_variable_values
from graphql.pyutils import Path
from strawberry.execution import optimized_is_awaitable
from strawberry.schema.schema import _OperationContextAwareGraphQLResolveInfo
from strawberry.schema.schema_converter import GraphQLCoreConverter, get_arguments
from strawberry.types.field import StrawberryField

from engine.fast_execution import Complete, Plans, completer

if TYPE_CHECKING:
    from schema.root import OutdialSchema

MAX_COERCION_ERRORS = 50  # graphql-core's default: the same variables fail the same way

_DEFINITION = GraphQLCoreConverter.DEFINITION_BACKREF


class _GiveWay(Exception):
    """This request is answered by the full execution."""


class _NoAsyncHelpers:
    """Stands in for the executor's async helpers, which only the executor has: a resolver that
    uses them gives way to the full execution."""

    def __getattr__(self, name: str) -> Any:
        raise _GiveWay


_NO_ASYNC_HELPERS = _NoAsyncHelpers()


@dataclass(frozen=True, slots=True)
class Resolved:
    """The root field's value, which the plan did not vouch for: graphql-core completes it, with
    this as its middleware answering for the root field instead of the resolver."""

    value: Any

    def resolve(
        self, next_: Any, root: Any, info: GraphQLResolveInfo[Any], **arguments: Any
    ) -> Any:
        if info.path.prev is None:
            return self.value
        return next_(root, info, **arguments)


_ROOTS = {
    OperationType.QUERY: "query_type",
    OperationType.MUTATION: "mutation_type",
}


class DirectQuery:
    """One operation of a prepared document: a query or mutation of one root field."""

    def __init__(
        self,
        schema: OutdialSchema,
        operation: OperationDefinitionNode,
        fragments: Mapping[str, FragmentDefinitionNode],
        node: FieldNode,
        plans: Plans,
    ) -> None:
        graphql_schema = schema._schema
        root_type = getattr(graphql_schema, _ROOTS[operation.operation])
        assert isinstance(root_type, GraphQLObjectType)
        self._field_def = root_type.fields[node.name.value]
        self._field: StrawberryField = self._field_def.extensions[_DEFINITION]
        self._schema = schema
        self._graphql_schema = graphql_schema
        self._root_type = root_type
        self._operation = operation
        self._fragments = dict(fragments)
        self._node = node
        self._nodes = [node]
        self._response_name = node.alias.value if node.alias else node.name.value
        self._path = Path(None, self._response_name, root_type.name)
        self._plans = plans
        self._complete: Complete | None = None
        self._has_arguments = bool(self._field_def.args or node.arguments)

    @classmethod
    def of(
        cls,
        schema: OutdialSchema,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        plans: Plans | None,
    ) -> DirectQuery | None:
        """The direct path for `operation` of `document`, if it can take one (`plans`: the
        document's shared plans, None when it has directives)."""
        if plans is None or operation.operation not in _ROOTS:
            return None
        selections = operation.selection_set.selections
        if len(selections) != 1 or not isinstance(selections[0], FieldNode):
            return None
        node = selections[0]
        root_type = getattr(schema._schema, _ROOTS[operation.operation])
        if node.directives or node.name.value.startswith("__") or root_type is None:
            return None
        field_def = root_type.fields.get(node.name.value)
        field = field_def.extensions.get(_DEFINITION) if field_def else None
        if not isinstance(field, StrawberryField) or field.base_resolver is None:
            return None
        if field.extensions or schema.schema_converter._get_field_exception_handlers(field):
            return None
        fragments = {
            definition.name.value: definition
            for definition in document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }
        return cls(schema, operation, fragments, node, plans)

    async def run(
        self,
        context: object,
        variables: dict[str, Any] | None,
        extensions: dict[str, Any] | None,
    ) -> ExecutionResult | Resolved | None:
        """The result graphql-core would give; or the value the full execution completes; or
        None: the full execution must answer from scratch (no resolver has run)."""
        complete = self._complete or self._completer()
        if complete is None:
            return None
        coerced = get_variable_values(
            self._graphql_schema,
            self._operation.variable_definitions or (),
            variables or {},
            max_errors=MAX_COERCION_ERRORS,
        )
        if isinstance(coerced, list):
            return None
        try:
            arguments = (
                get_argument_values(self._field_def, self._node, coerced)
                if self._has_arguments
                else {}
            )
        except Exception:  # graphql-core reports it, before any resolver runs
            return None
        try:
            value = self._resolve(context, coerced.coerced, extensions, arguments)
            if isawaitable(value):
                value = await value
        except _GiveWay:
            return None
        except Exception as error:
            return self._failed(error)
        try:
            return ExecutionResult({self._response_name: complete(value)}, None)
        except Exception:  # the plan gave up, or met an error graphql-core reports its own way
            return Resolved(value)

    def _failed(self, error: Exception) -> ExecutionResult:
        """graphql-core's answer when a root field's resolver raises (Executor.execute_field,
        handle_field_error): the error located at the field, which is null, or the data is
        when the field is non-null. Built here rather than by running the resolver again, so
        that a store that fails slowly (a database down) is waited for once."""
        located = located_error(error, self._nodes, self._path.as_list())
        if isinstance(self._field_def.type, GraphQLNonNull):
            return ExecutionResult(None, [located])
        return ExecutionResult({self._response_name: None}, [located])

    def _resolve(
        self,
        context: object,
        variables: dict[str, Any],
        extensions: dict[str, Any] | None,
        arguments: dict[str, Any],
    ) -> Any:
        """As strawberry's resolver wrapper calls a field without extensions or handlers."""
        raw_info = _OperationContextAwareGraphQLResolveInfo(
            self._node.name.value,
            self._nodes,
            self._field_def.type,
            self._root_type,
            self._path,
            self._graphql_schema,
            self._fragments,
            None,  # root value
            self._operation,
            variables,
            context,
            optimized_is_awaitable,
            None,  # abort signal
            _NO_ASYNC_HELPERS,
            extensions,  # type: ignore[arg-type]  # None as strawberry passes it
        )
        info = self._schema.config.info_class(
            _raw_info=raw_info,  # type: ignore[arg-type]  # what strawberry passes too
            _field=self._field,
        )
        args, kwargs = get_arguments(
            field=self._field,
            source=None,
            info=info,
            kwargs=arguments,
            config=self._schema.config,
            scalar_registry=self._schema.schema_converter.scalar_registry,
        )
        return self._field.get_result(None, info=info, args=args, kwargs=kwargs)

    def _completer(self) -> Complete | None:
        """The field's completion, once graphql-core's first execution has planned it."""
        node_ids = (id(self._node),)

        def planned(type_: GraphQLOutputType) -> Complete | None:
            if isinstance(type_, GraphQLObjectType):  # None: not planned yet, or no plan fits
                return self._plans.get((type_, node_ids))
            return None  # leaves, interfaces and unions: the full execution

        self._complete = completer(self._field_def.type, planned)
        return self._complete
