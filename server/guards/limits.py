"""Caps on what one request may ask for, checked before any resolver runs."""

from __future__ import annotations

from typing import Any

import orjson
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
from starlette.types import Send

from engine import DocumentRules
from server.guards.budget import Budget
from server.settings import Settings


def document_limits(settings: Settings) -> DocumentRules:
    """The caps every document is checked against once, when it is first prepared."""
    rules: list[type[ASTValidationRule]] = [
        operation_limits(settings.max_query_depth, settings.max_aliases)
    ]
    if not settings.introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    return DocumentRules(max_tokens=settings.max_tokens, rules=tuple(rules))


def request_budget(settings: Settings) -> Budget:
    """What one request may cost, counted with its variables after its document validated."""
    return Budget(
        max_result_items=settings.max_result_items, max_creates=settings.max_creates_per_request
    )


def operation_limits(max_depth: int, max_aliases: int) -> type[ValidationRule]:
    class OperationLimits(ValidationRule):
        """Depth and alias count of each operation, introspection included."""

        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            # Runs after graphql-core checked that fragments do not nest too deeply to walk.
            depth, aliases = _Measure(self.context).selection_set(node.selection_set)
            name = f"'{node.name.value}'" if node.name else "The operation"
            if depth > max_depth:
                self.report_error(
                    GraphQLError(f"{name} nests fields {depth} deep; at most {max_depth}.", node)
                )
            if aliases > max_aliases:
                self.report_error(
                    GraphQLError(f"{name} uses {aliases} aliases; at most {max_aliases}.", node)
                )

    return OperationLimits


class _Measure:
    """Deepest field path and number of aliased fields, each fragment measured once."""

    def __init__(self, context: ValidationContext) -> None:
        self.fragments: dict[str, FragmentDefinitionNode] = {
            definition.name.value: definition
            for definition in context.document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }
        self.measured: dict[str, tuple[int, int]] = {}

    def selection_set(self, node: SelectionSetNode | None) -> tuple[int, int]:
        depth = aliases = 0
        for selection in node.selections if node else ():
            if isinstance(selection, FieldNode):
                inner_depth, inner_aliases = self.selection_set(selection.selection_set)
                depth = max(depth, 1 + inner_depth)
                aliases += inner_aliases + (selection.alias is not None)
            elif isinstance(selection, InlineFragmentNode):
                inner_depth, inner_aliases = self.selection_set(selection.selection_set)
                depth, aliases = max(depth, inner_depth), aliases + inner_aliases
            elif isinstance(selection, FragmentSpreadNode):
                inner_depth, inner_aliases = self.fragment(selection.name.value)
                depth, aliases = max(depth, inner_depth), aliases + inner_aliases
        return depth, aliases

    def fragment(self, name: str) -> tuple[int, int]:
        if name not in self.measured:
            self.measured[name] = (0, 0)  # a cycle adds nothing here; graphql-core reports it
            fragment = self.fragments.get(name)
            self.measured[name] = self.selection_set(fragment.selection_set if fragment else None)
        return self.measured[name]


async def send_refusal(send: Send, status: int, message: str) -> None:
    """Answer a request refused before GraphQL ran, and close the connection."""
    body = orjson.dumps({"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]})
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
