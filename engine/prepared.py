"""Documents parsed and validated once, shared by every request that runs them.

A `Prepared` document is what a request needs before execution: the parsed document (or
the parse error), its validation errors (already shaped for clients), which of its operations
take the direct path (engine.direct_query, decided here, once), and its plans
(engine.fast_execution), the one place plans are kept: with the document, as long as it lives.
`Documents` hands out one `Prepared` per text from a bounded LRU cache; persisted queries
keep theirs in caches of their own (server/http/persisted.py).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    OperationDefinitionNode,
    parse,
    specified_rules,
    validate,
)

from engine.direct_query import DirectQuery
from engine.fast_execution import Plans, has_directives
from engine.lru import Lru
from engine.seam import StrawberrySchema, graphql_schema_of

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
    # The operations that take the direct path, by name (None: the document's only one).
    direct: Mapping[str | None, DirectQuery] = field(default_factory=dict)
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
        schema: StrawberrySchema,
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
        errors = validate(graphql_schema_of(self._schema), document, self._rules)
        self._shape(errors)
        plans: Plans | None = None if has_directives(tuple(document.definitions)) else {}
        direct = {} if errors else self._direct_paths(document, plans)
        return Prepared(query, document, tuple(errors), plans, direct)

    def _direct_paths(
        self, document: DocumentNode, plans: Plans | None
    ) -> dict[str | None, DirectQuery]:
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        paths: dict[str | None, DirectQuery] = {}
        for operation in operations:
            path = DirectQuery.of(self._schema, document, operation, plans)
            if path is None:
                continue
            if operation.name is not None:
                paths[operation.name.value] = path
            if len(operations) == 1:  # else a request must name its operation (graphql-core)
                paths[None] = path
        return paths
