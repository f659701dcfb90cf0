"""Documents parsed and validated once, shared by every request that runs them.

A `Prepared` document is what a request needs before execution: the parsed document (or
the parse error), its validation errors (already shaped for clients), and the execution
plans of `engine.fast_execution`, kept with the document for as long as it lives.
`Documents` hands out one `Prepared` per text from a bounded LRU cache; persisted queries
keep theirs in caches of their own (server/http/persisted.py).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    parse,
    specified_rules,
    validate,
)
from graphql.validation import ASTValidationRule
from strawberry.extensions import SchemaExtension

from engine.fast_execution import Plans, has_directives
from engine.lru import Lru

ShapeErrors = Callable[[list[GraphQLError]], None]


@dataclass(frozen=True, slots=True)
class DocumentRules:
    """What every document must satisfy beyond the specification's own rules."""

    max_tokens: int | None = None
    rules: tuple[type[ASTValidationRule], ...] = ()


@dataclass(frozen=True, slots=True, eq=False)
class Prepared:
    query: str
    document: DocumentNode | None  # None: the text did not parse
    errors: tuple[GraphQLError, ...]  # the parse error or the validation errors
    plans: Plans | None = field(default=None)  # None: plans are made per request
    # What later checks learnt of this document, kept as long as it is (server/guards/budget.py).
    memo: dict[Hashable, object] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return self.document is not None and not self.errors

    def operation(self, name: str | None) -> OperationDefinitionNode | None:
        """The operation `name` selects (the first one without a name), as strawberry picks it."""
        for definition in self.document.definitions if self.document else ():
            if isinstance(definition, OperationDefinitionNode) and (
                name is None or (definition.name is not None and definition.name.value == name)
            ):
                return definition
        return None


class Documents:
    def __init__(
        self,
        schema: Callable[[], GraphQLSchema],
        rules: DocumentRules,
        shape: ShapeErrors,
        cache_size: int = 256,
    ) -> None:
        self._schema = schema
        self._max_tokens = rules.max_tokens
        self._rules = (*specified_rules, *rules.rules)
        self._shape = shape
        self._cache: Lru[str, Prepared] = Lru(cache_size)

    @property
    def max_tokens(self) -> int | None:
        return self._max_tokens

    def get(self, query: str) -> Prepared:
        """The prepared document for `query`, from the cache when it is there."""
        prepared = self._cache.get(query)
        if prepared is None:
            prepared = self.prepare(query)
            self.keep(prepared)
        return prepared

    def keep(self, prepared: Prepared) -> None:
        """Serve `prepared` from the cache by its text (persisted ones, for strawberry)."""
        self._cache.put(prepared.query, prepared)

    def prepare(self, query: str) -> Prepared:
        try:
            document = parse(query, max_tokens=self._max_tokens)
        except GraphQLError as error:
            self._shape([error])
            return Prepared(query, None, (error,))
        errors = validate(self._schema(), document, self._rules)
        self._shape(errors)
        plans: Plans | None = None if has_directives(tuple(document.definitions)) else {}
        return Prepared(query, document, tuple(errors), plans)


class PreparedDocuments(SchemaExtension):
    """Strawberry's own execution (websockets) parses and validates through `Documents`."""

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
        prepared = self._prepared
        if prepared is not None and self.execution_context.graphql_document is prepared.document:
            self.execution_context.pre_execution_errors = list(prepared.errors)
        yield
