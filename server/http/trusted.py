"""Trusted documents: the operations a frontend ships, read from its build's manifest.

Two formats: Apollo's persisted-query-manifest.json
`{"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id", "name",
"type", "body"}]}` and GraphQL Codegen's persisted-documents.json `{"<hash>": "<body>"}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import orjson

APOLLO_FORMAT = "apollo-persisted-query-manifest"
MAX_ID_LENGTH = 256


@dataclass(frozen=True, slots=True)
class TrustedDocument:
    id: str
    body: str
    name: str = ""


class ManifestError(ValueError):
    pass


def load_manifest(path: Path) -> tuple[TrustedDocument, ...]:
    try:
        raw = orjson.loads(path.read_bytes())
    except OSError as error:
        raise ManifestError(f"{path}: {error.strerror}") from None
    except orjson.JSONDecodeError as error:
        raise ManifestError(f"{path}: not JSON ({error})") from None
    if not isinstance(raw, dict):
        raise ManifestError(f"{path}: expected a JSON object")
    documents = _apollo(raw, path) if "format" in raw else _codegen(raw, path)
    if not documents:
        raise ManifestError(f"{path}: the manifest lists no operation")
    return documents


def _apollo(raw: Mapping[str, object], path: Path) -> tuple[TrustedDocument, ...]:
    if raw.get("format") != APOLLO_FORMAT or raw.get("version") != 1:
        raise ManifestError(f"{path}: expected format {APOLLO_FORMAT!r} version 1")
    operations = raw.get("operations")
    if not isinstance(operations, list):
        raise ManifestError(f"{path}: `operations` must be a list")
    documents = []
    for number, operation in enumerate(operations):
        where = f"{path}: operations[{number}]"
        if not isinstance(operation, dict):
            raise ManifestError(f"{where} must be an object")
        name = operation.get("name", "")
        if not isinstance(name, str):
            raise ManifestError(f"{where}.name must be a string")
        documents.append(_document(operation.get("id"), operation.get("body"), where, name))
    return _unique(documents, path)


def _codegen(raw: Mapping[str, object], path: Path) -> tuple[TrustedDocument, ...]:
    return _unique([_document(key, body, f"{path}: {key!r}") for key, body in raw.items()], path)


def _document(key: object, body: object, where: str, name: str = "") -> TrustedDocument:
    if not isinstance(key, str) or not 0 < len(key) <= MAX_ID_LENGTH:
        raise ManifestError(f"{where}: the id must be a string of 1 to {MAX_ID_LENGTH} characters")
    if not isinstance(body, str) or not body.strip():
        raise ManifestError(f"{where}: the body must be a GraphQL document")
    return TrustedDocument(key, body, name)


def _unique(documents: list[TrustedDocument], path: Path) -> tuple[TrustedDocument, ...]:
    seen: dict[str, str] = {}
    for document in documents:
        if seen.setdefault(document.id, document.body) != document.body:
            raise ManifestError(f"{path}: id {document.id} is listed with two different bodies")
    return tuple(documents)
