"""The engine reaches strawberry, and anything private of graphql-core, through engine.seam only,
and only on the versions that seam was checked against."""

from __future__ import annotations

import ast
import inspect
from importlib.metadata import version
from pathlib import Path

import strawberry
from graphql import Executor
from strawberry.schema.schema import _OperationContextAwareGraphQLResolveInfo
from strawberry.schema.schema_converter import GraphQLCoreConverter

from engine import seam

ENGINE = Path(seam.__file__).parent
PUBLIC_GRAPHQL = {"graphql", "graphql.pyutils"}


def test_the_installed_libraries_are_those_the_private_names_were_checked_on() -> None:
    installed = {name: version(name) for name in seam.VERIFIED_ON}
    names = "\n".join(f"  {each.library}: {each.name}" for each in seam.PRIVATE_NAMES)
    assert installed == seam.VERIFIED_ON, (
        f"installed {installed}, but engine/seam.py was checked on {seam.VERIFIED_ON}. "
        f"Re-check each of these against the installed versions, then update VERIFIED_ON "
        f"(and the lock file):\n{names}"
    )


def test_the_private_names_are_there() -> None:
    subfields = inspect.signature(Executor.collect_and_execute_subfields).parameters
    assert list(subfields) == [
        "self",
        "return_type",
        "field_details_list",
        "path",
        "result",
        "position_context",
    ]
    assert list(inspect.signature(Executor.collect_subfields).parameters) == [
        "self",
        "return_type",
        "field_details_list",
    ]
    assert len(_OperationContextAwareGraphQLResolveInfo._fields) == 15
    assert _OperationContextAwareGraphQLResolveInfo._fields[-2:] == (
        "async_helpers",
        "operation_extensions",
    )
    assert callable(GraphQLCoreConverter._get_field_exception_handlers)

    @strawberry.type
    class Query:
        plain: str = "hi"

    field = strawberry.Schema(Query)._schema.query_type.fields["plain"]  # type: ignore[union-attr]
    assert seam.plain_reader(field) is not None, "strawberry's basic resolver changed its name"


def imports_of(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def test_only_the_seam_imports_strawberry_or_graphql_cores_inner_modules() -> None:
    for path in ENGINE.glob("*.py"):
        libraries = {m for m in imports_of(path) if m.split(".")[0] in {"graphql", "strawberry"}}
        if path.name != "seam.py":
            assert libraries <= PUBLIC_GRAPHQL, f"{path.name} imports {libraries - PUBLIC_GRAPHQL}"


def test_the_engine_imports_nothing_of_the_app() -> None:
    app = {"domain", "storage", "resolvers", "schema", "server", "cli"}
    for path in ENGINE.glob("*.py"):
        leaked = {m for m in imports_of(path) if m.split(".")[0] in app}
        assert not leaked, f"{path.name} imports {leaked}"


def test_the_app_uses_the_engine_through_its_package_only() -> None:
    root = ENGINE.parent
    for package in ("domain", "storage", "resolvers", "schema", "server", "cli"):
        for path in (root / package).rglob("*.py"):
            inner = {m for m in imports_of(path) if m.startswith("engine.")}
            assert not inner, f"{path.relative_to(root)} imports {inner}: use `engine`'s names"
