"""Completes objects made of plain attributes without graphql-core's per-field machinery.

Why: graphql-core completes each field on its own (a ResolveInfo, a Path, the resolver
call, awaitable checks, value completion), about 4.5 µs a field. A page of 100 targets
selects about 4,600 fields, so this was ~88% of its execution (bench/graphql_vs_plain.py).
Nearly all our fields are plain attributes of the strawberry objects the resolvers build.
For an object whose every selected field is one, `FastExecutionContext` builds the result
dict directly: per field one attribute read and one exact-type check, following a plan
made once per operation. A plan shared by many requests is compiled into one Python
function per object type, the fields read and checked in line (only schema names are
spliced into its source; response names are quoted).

Clients see no difference. The fast path answers only with what graphql-core would
answer without an error: objects must be exact instances of their strawberry class, lists
real lists or tuples (an iterator could not be read again), leaves of the Python type
graphql-core passes through unchanged, or else coerced by their type as graphql-core does.
On anything else (None in a non-null field, a failed coercion, an awaitable or an
exception as a value, ...) it hands the whole object back to graphql-core, which completes
it from scratch and reports any error with its own message, path and locations. Reading
attributes twice is harmless: a basic strawberry field is a plain attribute read.

Plans live with their prepared document (engine.prepared), as long as it does: an operation
without any directive has the same plans whatever its variables, so they are shared by every
request running it. An operation with directives (@skip/@include), or a document that was not
prepared, plans for one request only.

What it relies on of graphql-core's executor and strawberry's schema is in engine.seam.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import (
    BREAK,
    GRAPHQL_MAX_INT,
    GRAPHQL_MIN_INT,
    DirectiveNode,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLID,
    GraphQLInt,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLString,
    Node,
    Undefined,
    Visitor,
    visit,
)

from engine.seam import (
    ExecutorBase,
    FieldDetailsList,
    enum_class,
    executing_plans,
    nodes_of,
    plain_origin,
    plain_reader,
)

Complete = Callable[[Any], Any]
Read = Callable[[Any], Any]
PlanKey = tuple[GraphQLObjectType, tuple[int, ...]]
# How each object selection of a document completes: keyed by the object type and the
# identities of the selecting field nodes, which their document keeps alive as long as these.
Plans = dict[PlanKey, Complete | None]

_APPLIED_BY_COLLECTION = frozenset({"skip", "include"})


class _GiveUp(Exception):
    """The fast path cannot vouch for this value: graphql-core completes the object."""


@dataclass(frozen=True, slots=True)
class ResolvedRoot:
    """Middleware answering for the root field with the value its resolver already gave, so
    that graphql-core completes that value and the resolver does not run again."""

    value: Any

    def resolve(
        self, next_: Any, root: Any, info: GraphQLResolveInfo[Any], **arguments: Any
    ) -> Any:
        if info.path.prev is None:
            return self.value
        return next_(root, info, **arguments)


class FastExecutionContext(ExecutorBase):
    def __init__(self, *args: Any, plans: Plans | None = None, **kwargs: Any) -> None:
        """`plans`: those of a prepared document (engine.prepared), shared by its requests;
        else those strawberry's execution of a prepared document runs with (engine.seam)."""
        super().__init__(*args, **kwargs)
        middleware = self.middleware_manager
        # A resolve hook must see every field: then nothing is completed here.
        self._planning = not middleware or all(
            isinstance(each, ResolvedRoot) for each in middleware.middlewares
        )
        if plans is None:
            plans = executing_plans.get()
        self._plans: Plans = _OneRequest() if plans is None else plans
        # Plans shared by many requests are compiled; those of one request are not worth it.
        self._make = _closure if isinstance(self._plans, _OneRequest) else _compiled

    def complete_object(
        self, object_type: GraphQLObjectType, details: FieldDetailsList, source: Any
    ) -> dict[str, Any] | None:
        plan = self._plan(object_type, details) if self._planning else None
        if plan is None:
            return None
        try:
            completed: dict[str, Any] = plan(source)
        except Exception:  # _GiveUp, or an error graphql-core will report itself
            return None
        return completed

    def _plan(
        self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> Complete | None:
        key = (object_type, tuple(map(id, nodes_of(field_details_list))))
        if key not in self._plans:
            self._plans[key] = self._build(object_type, field_details_list)
        return self._plans[key]

    def _build(
        self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> Complete | None:
        origin = _plain_origin(object_type)
        subfields = self.subfields(object_type, field_details_list)
        if origin is None or subfields is None:
            return None
        steps: list[Step] = []
        for response_name, details in subfields.items():
            step = self._step(object_type, response_name, details)
            if step is None:
                return None
            steps.append(step)
        return self._make(origin, steps)

    def _step(
        self, object_type: GraphQLObjectType, response_name: str, details: FieldDetailsList
    ) -> Step | None:
        node = nodes_of(details)[0]
        if node.name.value == "__typename":
            typename = object_type.name
            return Step(response_name, lambda _source: typename, _itself, typename=typename)
        field_def = self.schema.get_field(object_type, node.name.value)
        if field_def is None or field_def.args or node.arguments or _directed(details):
            return None
        reader = plain_reader(field_def)
        complete = self._completer(field_def.type, details) if reader else None
        if reader is None or complete is None:
            return None
        read, attribute = reader
        return Step(response_name, read, complete, attribute, _inline(field_def.type))

    def _completer(self, type_: GraphQLOutputType, details: FieldDetailsList) -> Complete | None:
        return completer(type_, lambda named: self._named_completer(named, details))

    def _named_completer(
        self, type_: GraphQLOutputType, details: FieldDetailsList
    ) -> Complete | None:
        """Completes a value of a named type that must not be null (None makes it give up)."""
        if isinstance(type_, GraphQLScalarType | GraphQLEnumType):
            return self._leaf(type_)
        if isinstance(type_, GraphQLObjectType):
            return self._plan(type_, details)
        return None  # interfaces and unions pick their type at run time

    def _leaf(self, type_: GraphQLLeafType) -> Complete:
        """complete_leaf_value: values graphql-core returns unchanged are answered at once."""
        is_awaitable = self.is_awaitable
        coerce_output = type_.coerce_output_value

        def coerce(value: Any) -> Any:
            if value is None or isinstance(value, Exception) or is_awaitable(value):
                raise _GiveUp
            coerced = coerce_output(value)
            if coerced is None or coerced is Undefined:
                raise _GiveUp
            return coerced

        if type_ is GraphQLString or type_ is GraphQLID:
            return lambda value: value if type(value) is str else coerce(value)
        if type_ is GraphQLBoolean:
            return lambda value: value if type(value) is bool else coerce(value)
        if type_ is GraphQLInt:
            return lambda value: (
                value
                if type(value) is int and GRAPHQL_MIN_INT <= value <= GRAPHQL_MAX_INT
                else coerce(value)
            )
        members = enum_class(type_) if isinstance(type_, GraphQLEnumType) else None
        names = _enum_names(type_, members) if isinstance(type_, GraphQLEnumType) else None
        if names is not None:
            return lambda value: names[value._value_] if type(value) is members else coerce(value)
        return coerce


def completer(
    type_: GraphQLOutputType, named: Callable[[GraphQLOutputType], Complete | None]
) -> Complete | None:
    """complete_value for `type_`: its non-null and list wrappers around `named`, the
    completion of its named type (which must give up on None); None when there is none."""
    if isinstance(type_, GraphQLNonNull):
        return _present_completer(type_.of_type, named)
    present = _present_completer(type_, named)
    if present is None:
        return None

    def nullable(value: Any) -> Any:
        return None if value is None or value is Undefined else present(value)

    return nullable


def _present_completer(
    type_: GraphQLOutputType, named: Callable[[GraphQLOutputType], Complete | None]
) -> Complete | None:
    """Completes a value that must not be null (None makes it give up)."""
    if isinstance(type_, GraphQLList):
        item = completer(type_.of_type, named)
        if item is None:
            return None

        def complete_list(value: Any) -> list[Any]:
            if type(value) is not list and type(value) is not tuple:
                raise _GiveUp  # graphql-core also takes other iterables, and async ones
            return [item(each) for each in value]

        return complete_list
    return named(type_)


def _itself(value: Any) -> Any:
    return value


@dataclass(frozen=True, slots=True)
class Step:
    """One field of a plan: how its value is read and completed."""

    response_name: str
    read: Read
    complete: Complete
    attribute: str | None = None  # a plain attribute read: `source.<attribute>`
    inline: Inline | None = None  # the completer's fast case, as an expression
    typename: str | None = None  # __typename


# An expression answering the common value at once, else calling the completer: a template
# on {v} (the value), {c} (the completer), {k} (a constant of the inline), and that constant.
Inline = tuple[str, Any]

_INT = (
    f"{{v}} if type({{v}}) is int and {GRAPHQL_MIN_INT} <= {{v}} <= {GRAPHQL_MAX_INT}"
    " else {c}({v})"
)
_INLINES: dict[Any, Inline] = {
    GraphQLString: ("{v} if type({v}) is str else {c}({v})", None),
    GraphQLID: ("{v} if type({v}) is str else {c}({v})", None),
    GraphQLBoolean: ("{v} if type({v}) is bool else {c}({v})", None),
    GraphQLInt: (_INT, None),
}


def _inline(type_: GraphQLOutputType) -> Inline | None:
    """The fast case of `_leaf` for the named type (None fails it and reaches the completer)."""
    named = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    if named in _INLINES:
        return _INLINES[named]
    if isinstance(named, GraphQLEnumType):
        members = enum_class(named)
        names = _enum_names(named, members)
        if names is not None:
            return "{k}[0][{v}._value_] if type({v}) is {k}[1] else {c}({v})", (names, members)
    return None


def _closure(origin: type, steps: list[Step]) -> Complete:
    def complete_object(source: Any) -> dict[str, Any]:
        if type(source) is not origin:
            raise _GiveUp
        return {step.response_name: step.complete(step.read(source)) for step in steps}

    return complete_object


def _compiled(origin: type, steps: list[Step]) -> Complete:
    """complete_object for `steps`, as one function: each field read and checked in line."""
    namespace: dict[str, Any] = {"_GiveUp": _GiveUp, "origin": origin}
    lines = [
        "def complete_object(source):",
        "    if type(source) is not origin:",
        "        raise _GiveUp",
    ]
    items = []
    for n, step in enumerate(steps):
        namespace |= {f"r{n}": step.read, f"c{n}": step.complete}
        if step.typename is not None:  # __typename: the constant
            namespace[f"k{n}"] = step.typename
            items.append(f"{step.response_name!r}: k{n}")
            continue
        plain = step.attribute is not None and step.attribute.isidentifier()
        plain = plain and not keyword.iskeyword(step.attribute or "")
        lines.append(f"    v{n} = source.{step.attribute}" if plain else f"    v{n} = r{n}(source)")
        template, constant = step.inline or ("{c}({v})", None)
        namespace[f"k{n}"] = constant
        items.append(f"{step.response_name!r}: " + template.format(v=f"v{n}", c=f"c{n}", k=f"k{n}"))
    lines.append("    return {" + ", ".join(items) + "}")
    # Only names of the schema are spliced in; response names are GraphQL names, quoted.
    exec("\n".join(lines), namespace)
    complete: Complete = namespace["complete_object"]
    return complete


def _enum_names(type_: GraphQLEnumType, members: Any) -> dict[Any, str] | None:
    """Output name by member value, as the enum type coerces each member; None: no fast path."""
    if members is None:
        return None
    try:
        return {member._value_: type_.coerce_output_value(member) for member in members}
    except Exception:  # a member it cannot output, or an unhashable value
        return None


def _plain_origin(object_type: GraphQLObjectType) -> type | None:
    """The class whose exact instances the fast path completes, if any."""
    origin = plain_origin(object_type)
    if origin is None:
        return None
    if issubclass(origin, BaseException) or hasattr(origin, "__await__"):
        return None  # graphql-core raises or awaits such values
    return origin


def _directed(details: FieldDetailsList) -> bool:
    """Whether a directive other than those collection already applied is on the field."""
    return any(
        directive.name.value not in _APPLIED_BY_COLLECTION
        for node in nodes_of(details)
        for directive in node.directives or ()
    )


class _OneRequest(dict[PlanKey, "Complete | None"]):
    """The plans of an operation with directives: made for one request only."""


class _DirectiveFinder(Visitor):
    found = False

    def enter_directive(self, _node: DirectiveNode, *_args: Any) -> Any:
        self.found = True
        return BREAK


def has_directives(nodes: tuple[Node, ...]) -> bool:
    for node in nodes:
        finder = _DirectiveFinder()
        visit(node, finder)
        if finder.found:
            return True
    return False


__all__ = [
    "Complete",
    "FastExecutionContext",
    "Plans",
    "ResolvedRoot",
    "completer",
    "has_directives",
]
