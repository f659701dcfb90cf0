"""An operation of one root field, run without graphql-core's executor.

Why: for `outdialtarget(id)` the executor's fixed cost per request (`Executor.build`, the
resolve info, paths, the completion coroutines, incremental delivery's bookkeeping) and
strawberry's resolver wrapper took more time than the resolver and the object's completion
together (bench/README.md), and the same holds for a dialer's claim and report. For a query
or mutation whose root is one field, the same steps run here once each, with graphql-core's
and strawberry's own functions:
- the variables coerced by graphql-core (`get_variable_values`), the field's arguments by
  graphql-core (`get_argument_values`) and converted by strawberry (engine.seam);
- the resolver called as strawberry calls it, with a strawberry `Info` over the resolve
  info strawberry's execution context builds, and graphql-core's async helpers;
- the value completed by the plan graphql-core's first execution of the document made
  (engine.fast_execution), under the field's own list and non-null wrappers;
- an error answered as graphql-core answers it: variables that do not coerce with their
  errors and no data; an argument that does not coerce, or a resolver's error, located at
  the field, which is null (or the data, when the field is non-null).

Whether an operation takes this path is decided when its document is prepared (`of`), from
the document and the schema alone. Once it has, the operation's root resolver runs here and
only here: a value no plan vouches for yet (the first request, or a value the plan gives up
on) is completed by graphql-core from that value (`ResolvedRoot`, middleware answering for the
root field), never by running the resolver again.

Fields with field extensions (permissions among them) or exception handlers, introspection,
directives and several root fields (which the executor runs together, so their loads share a
batch) always take the full execution. No resolve middleware runs on the HTTP path
(server/http/execution.py), so none is skipped here.
"""

from __future__ import annotations

from collections.abc import Mapping
from inspect import isawaitable
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    get_argument_values,
    get_named_type,
    get_variable_values,
    located_error,
)
from graphql.pyutils import Path

from engine.fast_execution import Complete, Plans, ResolvedRoot, completer
from engine.seam import RootCall, RootResolver, StrawberrySchema, graphql_schema_of, root_resolver

MAX_COERCION_ERRORS = 50  # graphql-core's default: the same variables fail the same way

_ROOTS = {
    OperationType.QUERY: "query_type",
    OperationType.MUTATION: "mutation_type",
}


class DirectQuery:
    """One operation of a prepared document: a query or mutation of one root field."""

    def __init__(
        self,
        schema: GraphQLSchema,
        operation: OperationDefinitionNode,
        fragments: Mapping[str, FragmentDefinitionNode],
        root_type: GraphQLObjectType,
        node: FieldNode,
        resolve: RootResolver,
        plans: Plans,
    ) -> None:
        self._schema = schema
        self._field_def = root_type.fields[node.name.value]
        self._resolve = resolve
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
        schema: StrawberrySchema,
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
        graphql_schema = graphql_schema_of(schema)
        root_type = getattr(graphql_schema, _ROOTS[operation.operation])
        if node.directives or node.name.value.startswith("__") or root_type is None:
            return None
        field_def = root_type.fields.get(node.name.value)
        if field_def is None or not isinstance(get_named_type(field_def.type), GraphQLObjectType):
            return None  # no plan completes a leaf, an interface or a union: graphql-core does
        resolve = root_resolver(schema, root_type, field_def)
        if resolve is None:
            return None
        fragments = {
            definition.name.value: definition
            for definition in document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }
        return cls(graphql_schema, operation, fragments, root_type, node, resolve, plans)

    async def run(
        self,
        context: object,
        variables: dict[str, Any] | None,
        extensions: dict[str, Any] | None,
    ) -> ExecutionResult | ResolvedRoot:
        """The result graphql-core would give; or the root field's value, for graphql-core to
        complete (`ResolvedRoot`) when no plan vouches for it."""
        coerced = get_variable_values(
            self._schema,
            self._operation.variable_definitions or (),
            variables or {},
            max_errors=MAX_COERCION_ERRORS,
        )
        if isinstance(coerced, list):  # as graphql-core's execute answers them
            return ExecutionResult(None, coerced)
        try:
            arguments = (
                get_argument_values(self._field_def, self._node, coerced)
                if self._has_arguments
                else {}
            )
            call = RootCall(self._operation, self._fragments, coerced.coerced, context, extensions)
            value = self._resolve(call, self._nodes, self._path, arguments)
            if isawaitable(value):
                value = await value
        except Exception as error:
            return self._failed(error)
        complete = self._complete or self._completer()
        if complete is None:
            return ResolvedRoot(value)
        try:
            return ExecutionResult({self._response_name: complete(value)}, None)
        except Exception:  # the plan gave up, or met an error graphql-core reports its own way
            return ResolvedRoot(value)

    def _failed(self, error: Exception) -> ExecutionResult:
        """graphql-core's answer when a root field's arguments or resolver raise
        (Executor.execute_field, handle_field_error): the error located at the field, which
        is null, or the data is when the field is non-null."""
        located = located_error(error, self._nodes, self._path.as_list())
        if isinstance(self._field_def.type, GraphQLNonNull):
            return ExecutionResult(None, [located])
        return ExecutionResult({self._response_name: None}, [located])

    def _completer(self) -> Complete | None:
        """The field's completion, once graphql-core's first execution has planned it."""
        node_ids = (id(self._node),)

        def planned(type_: GraphQLOutputType) -> Complete | None:
            if isinstance(type_, GraphQLObjectType):  # None: not planned yet, or no plan fits
                return self._plans.get((type_, node_ids))
            return None  # leaves, interfaces and unions: graphql-core

        self._complete = completer(self._field_def.type, planned)
        return self._complete
