"""The environment the server reads: settings, `serve --help` and the README agree on it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator

import pytest

import cli.main as cli
from server.settings import ENVIRONMENT, Settings
from tests.support.live_server import REPO_ROOT


class Recording(dict[str, str]):
    """An empty environment that notes every name asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[str] = set()

    def get(self, name: str, default: object = None) -> object:  # type: ignore[override]
        self.asked.add(name)
        return default


def help_text(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as finished:
        cli.main(list(argv))
    assert finished.value.code == 0
    return capsys.readouterr().out


def test_the_variables_listed_are_exactly_those_the_settings_read() -> None:
    environ = Recording()
    assert Settings.from_env(environ) == Settings()
    assert environ.asked == {variable.name for variable in ENVIRONMENT}
    assert len(ENVIRONMENT) == len(environ.asked)


def test_serve_help_lists_every_variable_with_its_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = help_text(capsys, "serve", "--help")
    listed = dict(re.findall(r"^  ([A-Z_]+) \(default: (.*)\)$", text, re.MULTILINE))
    assert listed == {variable.name: variable.default() for variable in ENVIRONMENT}
    assert listed["MAX_BODY_BYTES"] == str(Settings().max_body_bytes)
    assert listed["REQUIRE_AUTH"] == "0"


def readme_configuration() -> Iterator[tuple[str, str]]:
    """(variable, default) of each row of the README's Configuration table."""
    readme = (REPO_ROOT / "README.md").read_text()
    table = readme[readme.index("## Configuration") :].split("\n\n")[2]
    for row in table.splitlines()[2:]:
        names_cell, defaults_cell = row.split(" | ")[:2]
        names = re.findall(r"`([A-Z_]+)`", names_cell)
        defaults = re.findall(r"`([^`]*)`", defaults_cell) or [defaults_cell.strip()] * len(names)
        yield from zip(names, defaults, strict=True)


def test_the_readme_configuration_table_matches() -> None:
    assert dict(readme_configuration()) == {v.name: v.default() for v in ENVIRONMENT}


def test_version_is_the_packages(capsys: pytest.CaptureFixture[str]) -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert help_text(capsys, "--version") == f"outdial-graphql {project['version']}\n"


@pytest.mark.parametrize(("given", "driver"), [("motor", "motor"), (" PyMongo ", "pymongo")])
def test_the_mongodb_driver_is_named_in_any_case(given: str, driver: str) -> None:
    assert Settings.from_env({"MONGODB_DRIVER": given}).mongodb_driver == driver
    assert Settings.from_env({}).mongodb_driver == "motor"


def test_an_unknown_mongodb_driver_stops_the_start_in_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cli", "serve"],
        cwd=REPO_ROOT,
        env=os.environ | {"PYTHONPATH": str(REPO_ROOT), "MONGODB_DRIVER": "mongoose"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "outdial-graphql: error: MONGODB_DRIVER must be one of motor, pymongo, got 'mongoose'"
    ]
