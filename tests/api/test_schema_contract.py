"""The served schema is the contract: same types, fields, arguments, defaults, nullability."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from graphql import GraphQLSchema, build_schema, introspection_from_schema

from schema.root import schema, sdl

REPO = Path(__file__).resolve().parents[2]
# The in-repo copy of the contract: it moves to each new version of ../shared/contract as the
# features of that version land, so main always checks the contract it serves.
CONTRACT = REPO / "tests" / "contract" / "outdialtarget.graphql"


def type_name(ref: dict[str, Any]) -> str:
    if ref["kind"] == "NON_NULL":
        return type_name(ref["ofType"]) + "!"
    if ref["kind"] == "LIST":
        return "[" + type_name(ref["ofType"]) + "]"
    return str(ref["name"])


def values(entries: list[dict[str, Any]] | None) -> dict[str, Any]:
    return {e["name"]: (type_name(e["type"]), e["defaultValue"]) for e in entries or []}


def shape(graphql_schema: GraphQLSchema) -> dict[str, Any]:
    """Everything a client depends on, as introspection shows it, without descriptions."""
    types: dict[str, Any] = {}
    for kind in introspection_from_schema(graphql_schema)["__schema"]["types"]:
        if kind["name"].startswith("__"):
            continue
        fields = {
            f["name"]: (type_name(f["type"]), values(f["args"])) for f in kind["fields"] or []
        }
        enum_values = sorted(v["name"] for v in kind["enumValues"] or [])
        types[kind["name"]] = (kind["kind"], fields, values(kind["inputFields"]), enum_values)
    return types


def test_schema_matches_the_contract() -> None:
    contract = build_schema(CONTRACT.read_text())
    assert shape(schema._schema) == shape(contract)


def test_schema_file_is_up_to_date() -> None:
    """`make schema` rewrites schema.graphql; it must match what the code serves."""
    assert (REPO / "schema.graphql").read_text() == sdl()


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("outdialtarget(id: ID!)", "outdialtarget(id: ID)"),
        ("first: Int! = 100", "first: Int! = 50"),
        ("  WHATSAPP\n", "  WHATSAPP\n  FAX\n"),
        ("  tmDelete: String!\n", "  tmDelete: String\n"),
    ],
)
def test_shape_sees_each_kind_of_difference(before: str, after: str) -> None:
    original = CONTRACT.read_text()
    assert before in original
    changed = original.replace(before, after)
    assert shape(build_schema(changed)) != shape(build_schema(original))
