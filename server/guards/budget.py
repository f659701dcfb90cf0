"""Request budgets: how many list items a request could return, how many targets it could create.

Counted from the document and its variables before any resolver runs, generically: a field's
list size is its `first`, `last` or `limit` argument (a page of 100 when it has such arguments
and none is given), else the length of its longest list argument (`inputs`); a list without
either takes the size of the nearest paged field above it (a connection's `edges`). Sizes
multiply along the path and add up across fields and aliases; `@skip`/`@include` are honoured
and introspection is free. A size above its argument's own maximum counts as that maximum, so
the resolver still answers it with its own BAD_USER_INPUT.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    Executor,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    TypeInfo,
    TypeInfoVisitor,
    VariableNode,
    Visitor,
    get_named_type,
    get_nullable_type,
    is_abstract_type,
    visit,
)
from graphql.execution.collect_fields import (
    FieldDetailsList,
    GroupedFieldSet,
    collect_fields,
    collect_subfields,
)
from graphql.execution.values import get_argument_values
from strawberry.extensions import SchemaExtension

from domain import claim, listing, validation
from engine import graphql_schema_of

# The domain's own limits: each paging argument's maximum, the page without one, the longest
# list an argument takes (createOutdialtargets' inputs).
PAGE_MAXIMUM = {"first": listing.MAX_PAGE, "last": listing.MAX_PAGE, "limit": claim.MAX_LIMIT}
PAGE_ARGUMENTS = tuple(PAGE_MAXIMUM)
DEFAULT_PAGE = listing.DEFAULT_PAGE
MAX_LIST_ARGUMENT = validation.MAX_CREATES
CREATING_PREFIX = "create"

_BUDGET_CODE = {"code": "GRAPHQL_VALIDATION_FAILED"}


@dataclass(frozen=True, slots=True)
class Budget:
    """The two budgets of one request; `refusal` is checked after validation, before execution,
    by the HTTP path (server/http/execution.py) and, through `RequestBudget`, by strawberry's."""

    max_result_items: int
    max_creates: int

    def refusal(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        memo: MutableMapping[Hashable, object] | None = None,
    ) -> GraphQLError | None:
        """The error refusing the request whole, or None when it fits (or its variables do not:
        execution then reports them).

        `memo` lives as long as the document (a prepared one's): an operation that fits once
        and whose cost no variable can change fits every time, and is not measured again.
        """
        fits = (self, operation_name)
        if memo is not None and memo.get(fits):
            return None
        cost = measure(schema, document, variables, operation_name)
        if cost is None:
            return None
        if memo is not None and self._fits(cost) and not sizing_variables(schema, document, memo):
            memo[fits] = True
            return None
        if cost.items > self.max_result_items:
            return GraphQLError(
                f"The request could return up to {cost.items:,} list items; at most "
                f"{self.max_result_items:,} (MAX_RESULT_ITEMS).",
                extensions=dict(_BUDGET_CODE),
            )
        if cost.creates > self.max_creates:
            return GraphQLError(
                f"The request's mutations could create up to {cost.creates:,} targets; at most "
                f"{self.max_creates:,} in one request (MAX_CREATES_PER_REQUEST).",
                extensions=dict(_BUDGET_CODE),
            )
        return None

    def _fits(self, cost: Cost) -> bool:
        return cost.items <= self.max_result_items and cost.creates <= self.max_creates


def sizing_variables(
    schema: GraphQLSchema, document: DocumentNode, memo: MutableMapping[Hashable, object]
) -> frozenset[str]:
    """The variables that can change what `document` costs: those in `@skip`/`@include`, in a
    paging argument or in a list argument (anywhere in the document: a superset)."""
    found = memo.get(_SIZING)
    if not isinstance(found, frozenset):
        found = memo[_SIZING] = _sizing_variables(schema, document)
    return found


_SIZING = "budget: sizing variables"


def _sizing_variables(schema: GraphQLSchema, document: DocumentNode) -> frozenset[str]:
    type_info = TypeInfo(schema)
    names: set[str] = set()

    class Sizing(Visitor):
        def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
            argument = type_info.get_argument()
            if type_info.get_directive() is not None or (  # @skip, @include
                argument is not None
                and (
                    node.name.value in PAGE_ARGUMENTS
                    or isinstance(get_nullable_type(argument.type), GraphQLList)
                )
            ):
                visit(node.value, _Variables(names))

    visit(document, TypeInfoVisitor(type_info, Sizing()))
    return frozenset(names)


class _Variables(Visitor):
    def __init__(self, names: set[str]) -> None:
        super().__init__()
        self.names = names

    def enter_variable(self, node: VariableNode, *_: Any) -> None:
        self.names.add(node.name.value)


class RequestBudget(SchemaExtension):
    """Strawberry's execution (both websocket protocols): refuses an operation over a budget."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        assert context.graphql_document is not None
        refusal = self.budget.refusal(
            graphql_schema_of(context.schema),
            context.graphql_document,
            context.variables,
            context.operation_name,
        )
        if refusal is not None:
            raise refusal
        yield


@dataclass(frozen=True, slots=True)
class Cost:
    items: int
    creates: int


def measure(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: dict[str, Any] | None = None,
    operation_name: str | None = None,
) -> Cost | None:
    """What a valid document could cost; None when its variables or operation do not fit."""
    executor = Executor.build(
        schema, document, raw_variable_values=variables, operation_name=operation_name
    )
    if not isinstance(executor, Executor):
        return None
    walk = _Walk(executor)
    return Cost(items=walk.items(), creates=walk.creates())


class _Walk:
    def __init__(self, executor: Executor[Any]) -> None:
        self.schema: GraphQLSchema = executor.schema
        self.executor = executor
        root = self.schema.get_root_type(executor.operation.operation)
        assert root is not None  # validation checked that the operation's root type exists
        self.root = root
        self.root_fields = collect_fields(
            self.schema,
            executor.fragments,
            executor.variable_values,
            root,
            executor.operation,
        ).grouped_field_set

    def items(self) -> int:
        return self._items(self.root, self.root_fields, multiplier=1, carried=None)

    def creates(self) -> int:
        if self.root is not self.schema.mutation_type:
            return 0
        creating = self._fields(
            self.root, self.root_fields, lambda name, field: name.startswith(CREATING_PREFIX)
        )
        return sum(_longest_list(field, arguments) or 1 for _, field, arguments in creating)

    def _items(
        self,
        parent: GraphQLObjectType,
        grouped: GroupedFieldSet,
        multiplier: int,
        carried: int | None,
    ) -> int:
        total = 0
        for details, field, arguments in self._fields(parent, grouped, self._may_list):
            size = _size(field, arguments)
            if isinstance(get_nullable_type(field.type), GraphQLList):
                count = size if size is not None else carried if carried is not None else 1
                total += multiplier * count
                total += self._below(field, details, multiplier * count, None)
            else:
                total += self._below(field, details, multiplier, carried if size is None else size)
        return total

    def _below(
        self, field: GraphQLField, details: FieldDetailsList, multiplier: int, carried: int | None
    ) -> int:
        named = get_named_type(field.type)
        if isinstance(named, GraphQLObjectType):
            kinds: list[GraphQLObjectType] = [named]
        elif is_abstract_type(named):
            kinds = list(self.schema.get_possible_types(named))
        else:
            return 0
        return max(
            self._items(kind, self._subfields(kind, details), multiplier, carried) for kind in kinds
        )

    def _subfields(self, kind: GraphQLObjectType, details: FieldDetailsList) -> GroupedFieldSet:
        executor = self.executor
        return collect_subfields(
            self.schema,
            executor.fragments,
            executor.variable_values,
            executor.operation,
            kind,
            details,
        ).grouped_field_set

    def _may_list(self, name: str, field: GraphQLField) -> bool:
        """Whether a field returns a list or an object with lists somewhere below it."""
        return isinstance(get_nullable_type(field.type), GraphQLList) or _holds_lists(
            self.schema, get_named_type(field.type)
        )

    def _fields(
        self,
        parent: GraphQLObjectType,
        grouped: GroupedFieldSet,
        wanted: Callable[[str, GraphQLField], bool],
    ) -> Iterator[tuple[FieldDetailsList, GraphQLField, Mapping[str, Any]]]:
        """The wanted selected fields with their arguments; introspection is free."""
        for details in grouped.values():
            node = details[0].node
            field = parent.fields.get(node.name.value)
            if (
                field is None
                or node.name.value.startswith("__")
                or not wanted(node.name.value, field)
            ):
                continue
            try:
                arguments = get_argument_values(
                    field,
                    node,
                    self.executor.variable_values,
                    details[0].fragment_variable_values,
                )
            except GraphQLError:  # execution reports it before this field resolves
                continue
            yield details, field, arguments


@cache
def _holds_lists(schema: GraphQLSchema, start: GraphQLNamedType) -> bool:
    """Whether some field of `start`, or of the types below it, returns a list."""
    seen: set[GraphQLNamedType] = set()
    todo = [start]
    while todo:
        named = todo.pop()
        if named in seen:
            continue
        seen.add(named)
        kinds = schema.get_possible_types(named) if is_abstract_type(named) else [named]
        for kind in kinds:
            for field in getattr(kind, "fields", {}).values():
                if isinstance(get_nullable_type(field.type), GraphQLList):
                    return True
                todo.append(get_named_type(field.type))
    return False


def _size(field: GraphQLField, arguments: Mapping[str, Any]) -> int | None:
    """The list size a field asks for, or None when it names none."""
    pages = {name: arguments.get(name) for name in PAGE_ARGUMENTS if name in field.args}
    given = [
        _clamp(value, PAGE_MAXIMUM[name]) for name, value in pages.items() if isinstance(value, int)
    ]
    if given:
        return max(given)
    if pages:
        return DEFAULT_PAGE
    return _longest_list(field, arguments)


def _longest_list(field: GraphQLField, arguments: Mapping[str, Any]) -> int | None:
    lengths = [
        len(value)
        for name, value in arguments.items()
        if isinstance(value, list)
        and isinstance(get_nullable_type(field.args[name].type), GraphQLList)
    ]
    return _clamp(max(lengths), MAX_LIST_ARGUMENT) if lengths else None


def _clamp(value: int, maximum: int) -> int:
    return max(0, min(value, maximum))
