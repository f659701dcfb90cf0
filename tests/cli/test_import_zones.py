"""`import` and `export` carry `time_zone` (DOMAIN.md v3): a line's key is kept as given, a line
without it gets the zone a create derives, a zone the database does not know is a bad line, and
export writes the key always."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.documents import tid
from tests.support.import_files import document, run, stored, write_lines

NEW_YORK = {"type": "tel", "target": "+12125550100", "target_name": "", "name": "", "detail": ""}


def test_a_line_keeps_its_zone_or_gets_the_derived_one(tmp_path: Path, data_dir: Path) -> None:
    lines = [
        document(1, time_zone="Europe/Berlin"),
        document(2, time_zone=None),
        document(3),
        document(4, destination_0=NEW_YORK),
        document(5, time_zone="US/Eastern"),
    ]
    assert run("import", str(write_lines(tmp_path / "in.jsonl", lines))) == 0
    zones = {target_id: doc["time_zone"] for target_id, doc in stored(data_dir).items()}
    assert zones == {
        tid(1): "Europe/Berlin",
        tid(2): None,
        tid(3): "Asia/Seoul",
        tid(4): "America/New_York",
        tid(5): "US/Eastern",
    }


@pytest.mark.parametrize("zone", ["Mars/Olympus", "asia/seoul", "", 9])
def test_a_zone_the_database_does_not_know_is_a_bad_line(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str], zone: object
) -> None:
    lines = [document(1), document(2, time_zone=zone)]
    assert run("import", str(write_lines(tmp_path / "in.jsonl", lines))) == 1
    err = capsys.readouterr().err
    assert "line 2: time_zone: " in err, err
    assert stored(data_dir) == {}


def test_export_writes_the_zone_always_and_a_reimport_keeps_a_null_one(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [document(1, time_zone=None), document(2)]
    assert run("import", str(write_lines(tmp_path / "in.jsonl", lines))) == 0
    exported = tmp_path / "out.jsonl"
    assert run("export", str(exported)) == 0
    zones = [json.loads(line)["time_zone"] for line in exported.read_text().splitlines()]
    assert zones == [None, "Asia/Seoul"]

    monkeypatch.setenv("DATA_DIR", str(tmp_path / "again"))
    assert run("import", str(exported)) == 0
    assert stored(tmp_path / "again")[tid(1)]["time_zone"] is None
