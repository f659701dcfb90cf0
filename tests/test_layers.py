"""The README's architecture holds: each package imports only the layers it may.

Every import counts, also those inside functions and under TYPE_CHECKING: a lazy import is
still a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PROJECT = {"domain", "storage", "engine", "schema", "resolvers", "server", "cli"}

MAY_IMPORT = {
    "domain": set(),
    "storage": {"domain"},
    "engine": set(),
    "schema": {"domain", "engine", "resolvers"},
    "resolvers": {"domain", "schema"},
    "server": {"domain", "engine", "schema", "resolvers", "storage"},
    "cli": {"domain", "schema", "server", "storage"},
}
# Libraries that do I/O or belong to an outer layer, kept out of the pure rules.
NOT_IN_DOMAIN = {"sqlite3", "motor", "pymongo", "starlette", "strawberry", "graphql", "uvicorn"}
DATABASE_DRIVERS = {"sqlite3", "motor", "pymongo"}


def modules(package: str) -> Iterator[Path]:
    yield from sorted((REPO / package).rglob("*.py"))


def imported(path: Path) -> Iterator[tuple[int, str]]:
    """(line, dotted name) of every import in the file."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: the project uses absolute imports"
            yield node.lineno, node.module or ""


def breaches(package: str, allowed: set[str]) -> list[str]:
    found = []
    for path in modules(package):
        for line, name in imported(path):
            top = name.split(".")[0]
            if top in PROJECT and top != package and top not in allowed:
                found.append(f"{path.relative_to(REPO)}:{line} imports {name}")
    return found


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_each_package_imports_only_the_layers_below_it(package: str) -> None:
    assert breaches(package, MAY_IMPORT[package]) == []


def test_only_the_schema_assembly_imports_resolvers() -> None:
    found = [
        f"{path.relative_to(REPO)}:{line}"
        for path in modules("schema")
        if path.name != "root.py"
        for line, name in imported(path)
        if name.split(".")[0] == "resolvers"
    ]
    assert found == []


def test_the_domain_does_no_io_and_knows_no_framework() -> None:
    found = [
        f"{path.relative_to(REPO)}:{line} imports {name}"
        for path in modules("domain")
        for line, name in imported(path)
        if name.split(".")[0] in NOT_IN_DOMAIN
    ]
    assert found == []


def test_only_storage_talks_to_a_database() -> None:
    found = [
        f"{path.relative_to(REPO)}:{line} imports {name}"
        for package in sorted(PROJECT - {"storage"})
        for path in modules(package)
        for line, name in imported(path)
        if name.split(".")[0] in DATABASE_DRIVERS
    ]
    assert found == []


def test_motor_is_imported_by_one_module() -> None:
    """Its successor, PyMongo's AsyncMongoClient, can then take its place in one module.
    (mongomock-motor, the in-process test double, is a package of its own.)"""
    found = {
        str(path.relative_to(REPO))
        for package in sorted(PROJECT | {"tests", "bench"})
        for path in modules(package)
        for _, name in imported(path)
        if name.split(".")[0] == "motor"
    }
    assert found == {"storage/mongo/driver.py"}
