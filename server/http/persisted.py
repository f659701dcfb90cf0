"""Persisted operations: Apollo's automatic persisted queries and trusted documents.

A request names its operation by `extensions.persistedQuery {version: 1, sha256Hash}`, with
or without the text. Known hashes are served from the trusted manifest or from a bounded LRU
cache of operations clients registered (sent once with their text); both hold `Prepared`
documents, so a hit is neither parsed nor validated again. With `trusted_only`, operations
the manifest does not list are refused before they are parsed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NoReturn

from graphql import GraphQLError

from engine import Documents, Lru, Prepared
from server.http.trusted import MAX_ID_LENGTH, TrustedDocument

NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
NOT_ALLOWED = "PERSISTED_QUERY_NOT_ALLOWED"
BAD_REQUEST = "BAD_REQUEST"

_MISMATCH = "The query's SHA-256 does not match `extensions.persistedQuery.sha256Hash`."

# How a lookup went, for /metrics: hit, registered, miss, refused.
Outcome = Callable[[str], None]


class Refused(Exception):
    """The request cannot run as sent; `error` tells the client why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.error = GraphQLError(message, extensions={"code": code})


class MissingQuery(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Resolved:
    prepared: Prepared
    persisted: bool  # named by its hash (answers over GET may then be cached)


class PersistedQueries:
    def __init__(
        self,
        documents: Documents,
        *,
        cache_size: int,
        trusted: Sequence[TrustedDocument] = (),
        trusted_only: bool = False,
        outcome: Outcome = lambda outcome: None,
    ) -> None:
        self._documents = documents
        self._cache: Lru[str, Prepared] = Lru(cache_size)
        self._trusted = {doc.id: documents.prepare(doc.body) for doc in trusted}
        self._trusted_texts = {prepared.query: prepared for prepared in self._trusted.values()}
        self.trusted_only = trusted_only
        self._outcome = outcome

    def invalid_trusted(self) -> list[str]:
        """Manifest entries that do not parse or validate, each with its first error."""
        return [
            f"{key}: {prepared.errors[0].message}"
            for key, prepared in self._trusted.items()
            if not prepared.valid
        ]

    def resolve(self, query: object, extensions: Mapping[str, object] | None) -> Resolved:
        """The document a request runs; Refused or MissingQuery when there is none."""
        persisted = (extensions or {}).get("persistedQuery")
        if persisted is not None:
            return Resolved(self._by_hash(_hash_of(persisted), query), persisted=True)
        if not isinstance(query, str) or not query:
            raise MissingQuery
        if self.trusted_only:
            return Resolved(self._trusted_text(query), persisted=False)
        return Resolved(self._documents.get(query), persisted=False)

    def _by_hash(self, key: str, query: object) -> Prepared:
        if query is not None and not isinstance(query, str):
            raise Refused(BAD_REQUEST, "The GraphQL operation's `query` must be a string.")
        known = self._known(key)
        if known is not None:
            if query and query != known.query:
                raise Refused(BAD_REQUEST, _MISMATCH)
            self._outcome("hit")
            return known
        if not query:
            self._refuse_unknown()
        if hashlib.sha256(query.encode()).hexdigest() != key.lower():
            raise Refused(BAD_REQUEST, _MISMATCH)
        if self.trusted_only:
            return self._trusted_text(query)
        return self._register(key.lower(), query)

    def _known(self, key: str) -> Prepared | None:
        trusted = self._trusted.get(key)
        if trusted is not None:
            return trusted
        return self._cache.get(key.lower())

    def _refuse_unknown(self) -> NoReturn:
        self._outcome("miss")
        if self._cache.size == 0 and not self.trusted_only:
            raise Refused(NOT_SUPPORTED, "PersistedQueryNotSupported")
        raise Refused(NOT_FOUND, "PersistedQueryNotFound")

    def _register(self, key: str, query: str) -> Prepared:
        prepared = self._documents.get(query)
        if prepared.valid and self._cache.size > 0:
            self._cache.put(key, prepared)
            self._outcome("registered")
        return prepared

    def _trusted_text(self, query: str) -> Prepared:
        trusted = self._trusted_texts.get(query)
        if trusted is None:
            self._outcome("refused")
            raise Refused(
                NOT_ALLOWED,
                "This service runs trusted documents only: the operation is not in its manifest.",
            )
        return trusted


def _hash_of(persisted: object) -> str:
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise Refused(BAD_REQUEST, "Unsupported persisted query version: only version 1 is.")
    key = persisted.get("sha256Hash")
    if not isinstance(key, str) or not 0 < len(key) <= MAX_ID_LENGTH:
        raise Refused(BAD_REQUEST, "`persistedQuery.sha256Hash` must be a string.")
    return key
