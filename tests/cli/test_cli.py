"""`outdial-graphql import` and `demo` on real files and the embedded store in DATA_DIR."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.app import create_app
from server.settings import Settings
from storage.datadir import DataDirLock
from tests.support import operations as ops
from tests.support.documents import NOT_DELETED, tid
from tests.support.import_files import document, run, stored, write_lines
from tests.support.live_server import REPO_ROOT

OUTDIAL = "40bea034-1d17-474d-a5de-da00d0861c69"


def api(data_dir: Path, query: str, **variables: Any) -> dict[str, Any]:
    """One GraphQL request to the service running on `data_dir`."""

    async def ask() -> dict[str, Any]:
        app = create_app(Settings(data_dir=data_dir))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://cli") as http:
                response = await http.post(
                    "/graphql", json={"query": query, "variables": variables}
                )
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body
        return body["data"]  # type: ignore[no-any-return]

    return asyncio.run(ask())


def test_import_writes_every_line_in_batches_and_the_api_serves_them(
    tmp_path: Path, data_dir: Path
) -> None:
    docs = [document(n) for n in range(1, 26)]
    docs[0] = document(
        1,
        status="progressing",
        try_count_0=2,
        destination_1={"type": "email", "target": "Ana@Example.COM"},
        tm_update="2022-05-01 09:00:00.000000",
    )
    docs[1] = document(2, tm_delete="2022-05-02 10:00:00.000000", status="done")
    docs[2] = {key: value for key, value in document(3).items() if not key.startswith("tm_")}
    path = write_lines(tmp_path / "targets.jsonl", [*docs[:10], "", *docs[10:]])

    process = subprocess.run(
        [sys.executable, "-m", "cli", "import", str(path), "--batch-size", "10"],
        cwd=REPO_ROOT,
        env=dict(os.environ) | {"PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert process.returncode == 0, process.stderr
    assert process.stderr.splitlines() == [
        "imported 10 of 25 targets (40%)",
        "imported 20 of 25 targets (80%)",
        "imported 25 of 25 targets (100%)",
        f"imported 25 target(s) from {path}",
    ]
    rows = stored(data_dir)
    assert len(rows) == 25
    assert rows[tid(5)] == docs[4] | {"time_zone": "Asia/Seoul"}  # as a create derives it
    assert rows[tid(1)]["destination_1"]["target"] == "ana@example.com"  # as a create stores it
    assert rows[tid(3)]["tm_create"] == rows[tid(3)]["tm_update"] > "2024"
    assert rows[tid(3)]["tm_delete"] == NOT_DELETED

    counts = api(data_dir, ops.COUNTS, outdialId=OUTDIAL)["outdialtargetCounts"]
    assert counts == {"idle": 23, "progressing": 1, "done": 0, "total": 24}
    first = api(data_dir, ops.GET, id=tid(1))["outdialtarget"]
    assert (first["status"], first["tryCount0"], first["tmUpdate"]) == (
        "PROGRESSING",
        2,
        "2022-05-01 09:00:00.000000",
    )


BAD_LINES: list[tuple[dict[str, Any] | str, str]] = [
    ("{not json", "not JSON: "),
    ('["a", "list"]', "not a JSON object: an array"),
    (
        document(10, destination_0={"type": "tel", "target": "12345"}),
        "destination_0.target: must be + followed by 7 to 15 digits (E.164)",
    ),
    (document(11, destination0={"type": "tel", "target": "+8211"}), "destination0: unknown field"),
    (document(12, status="ringing"), "status: must be one of idle, progressing, done"),
    (document(13, id="not-a-uuid", _id="not-a-uuid"), "id: must be a UUID"),
    (document(14, _id=tid(99)), "_id: must equal id"),
    (document(15, destination_0=None), "destination_0: a target needs at least one destination"),
    (document(16, name="x" * 256), "name: must be at most 255 characters"),
    (document(17, try_count_2=-1), "try_count_2: must be a whole number from 0 to 2147483647"),
    (document(18, tm_update="yesterday"), "tm_update: must be a UTC time YYYY-MM-DD"),
    (document(19, outdial_id="campaign-7"), "outdial_id: must be a UUID"),
    (document(1), f"id {tid(1)} already on line 1"),
]


def bad_file(tmp_path: Path) -> Path:
    return write_lines(
        tmp_path / "mixed.jsonl", [document(1), *(line for line, _ in BAD_LINES), document(2)]
    )


def expected_reports() -> list[tuple[int, str]]:
    return [(number, reason) for number, (_, reason) in enumerate(BAD_LINES, start=2)]


def reported(stderr: str) -> list[tuple[int, str]]:
    lines = [line for line in stderr.splitlines() if line.startswith("line ")]
    return [(int(line.split(":")[0].removeprefix("line ")), line) for line in lines]


def test_a_bad_line_is_reported_with_its_number_and_nothing_is_written(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("import", str(bad_file(tmp_path))) == 1

    err = capsys.readouterr().err
    found = reported(err)
    assert [number for number, _ in found] == [number for number, _ in expected_reports()]
    for (number, line), (_, reason) in zip(found, expected_reports(), strict=True):
        assert line.startswith(f"line {number}: {reason}"), (line, reason)
    assert f"{len(BAD_LINES)} bad line(s): nothing imported" in err
    assert stored(data_dir) == {}


def test_skip_bad_writes_the_good_lines_and_reports_the_rest(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("import", "--skip-bad", str(bad_file(tmp_path))) == 0

    err = capsys.readouterr().err
    assert [number for number, _ in reported(err)] == [n for n, _ in expected_reports()]
    assert f"skipped {len(BAD_LINES)} bad line(s)" in err
    assert set(stored(data_dir)) == {tid(1), tid(2)}


def test_ids_already_stored_are_refused(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("import", str(write_lines(tmp_path / "a.jsonl", [document(1), document(2)]))) == 0
    again = write_lines(tmp_path / "b.jsonl", [document(3), document(2, name="changed")])
    capsys.readouterr()

    assert run("import", str(again)) == 1
    err = capsys.readouterr().err
    assert f"line 2: id {tid(2)} is taken by another target in the database" in err
    assert set(stored(data_dir)) == {tid(1), tid(2)}

    assert run("import", "--skip-bad", str(again)) == 0
    rows = stored(data_dir)
    assert set(rows) == {tid(1), tid(2), tid(3)}
    assert rows[tid(2)]["name"] == "target 2"


def test_importing_the_same_file_again_writes_nothing_twice(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = write_lines(tmp_path / "a.jsonl", [document(1), document(2)])
    assert run("import", str(lines)) == 0
    first = stored(data_dir)
    capsys.readouterr()
    both = write_lines(tmp_path / "b.jsonl", [document(1), document(2), document(3)])
    assert run("import", str(both)) == 0
    err = capsys.readouterr().err
    assert "2 target(s) stored already, as given: left alone" in err
    assert "imported 1 target(s)" in err
    after = stored(data_dir)
    assert {key: after[key] for key in first} == first
    assert set(after) == {tid(1), tid(2), tid(3)}


def test_import_is_refused_while_a_program_holds_the_data_dir_alone(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Version 1's embedded store held it alone: the two never run together."""
    path = write_lines(tmp_path / "a.jsonl", [document(1)])
    lock = DataDirLock(data_dir)
    lock.acquire()
    try:
        assert run("import", str(path)) == 1
    finally:
        lock.release()
    assert "already in use" in capsys.readouterr().err


def test_import_of_a_missing_file_is_a_usage_error(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("import", str(tmp_path / "nope.jsonl")) == 2
    assert "no such file" in capsys.readouterr().err


def test_import_dash_reads_standard_input(tmp_path: Path, data_dir: Path) -> None:
    lines = "".join(json.dumps(document(n)) + "\n" for n in (1, 2, 3))
    process = subprocess.run(
        [sys.executable, "-m", "cli", "import", "-"],
        cwd=REPO_ROOT,
        env=dict(os.environ) | {"PYTHONPATH": str(REPO_ROOT)},
        input=lines,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert process.returncode == 0, process.stderr
    assert process.stderr.splitlines()[-1] == "imported 3 target(s) from standard input"
    assert set(stored(data_dir)) == {tid(1), tid(2), tid(3)}


def test_a_bad_line_on_standard_input_is_reported_and_nothing_is_written(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = json.dumps(document(1)) + "\n{not json\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(lines.encode())))
    assert run("import", "-") == 1
    assert "line 2: not JSON" in capsys.readouterr().err
    assert stored(data_dir) == {}


TYPES = "destination0 { type } destination1 { type } destination2 { type }"
LIST_TYPES = f"""query($outdialId: ID!) {{
  outdialtargets(outdialId: $outdialId, first: 100) {{ edges {{ node {{ {TYPES} }} }} }} }}"""


def test_demo_fills_an_outdial_and_prints_its_id(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("demo", "--count", "20") == 0
    out, err = capsys.readouterr()
    outdial = out.strip()
    assert len(outdial) == 36 and outdial in err

    counts = api(data_dir, ops.COUNTS, outdialId=outdial)["outdialtargetCounts"]
    assert counts == {"idle": 14, "progressing": 2, "done": 4, "total": 20}
    edges = api(data_dir, LIST_TYPES, outdialId=outdial)["outdialtargets"]["edges"]
    types = {
        edge["node"][slot]["type"]
        for edge in edges
        for slot in ("destination0", "destination1", "destination2")
        if edge["node"][slot]
    }
    assert types == {"TEL", "WHATSAPP", "SIP", "EMAIL", "AGENT"}


def test_demo_adds_to_the_outdial_it_is_given(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("demo", "--outdial", OUTDIAL.upper(), "--count", "3") == 0
    assert run("demo", "--outdial", OUTDIAL, "--count", "2") == 0
    assert capsys.readouterr().out.split() == [OUTDIAL, OUTDIAL]
    assert api(data_dir, ops.COUNTS, outdialId=OUTDIAL)["outdialtargetCounts"]["total"] == 5


def test_demo_refuses_an_outdial_id_that_is_not_a_uuid(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        run("demo", "--outdial", "campaign-7")
    assert exit_.value.code == 2
    assert "must be a UUID" in capsys.readouterr().err


def test_export_then_import_into_an_empty_store_then_export_gives_the_same_bytes(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = "5c1f3f4e-9a2b-4c3d-8e7f-0a1b2c3d4e5f"
    lines = [
        document(1, status="progressing", try_count_0=1, claim_token=tid(9)),
        document(2, tm_delete="2024-01-01 00:00:00.000000"),
        document(3, outdial_id=other, destination_1={"type": "sip", "target": "a@Pbx.example"}),
        document(4, status="done", name="Ünïcødé 名前", try_count_4=3),
    ]
    lines[0]["tm_lease_expire"] = "2030-01-01 00:00:00.000000"
    assert run("import", str(write_lines(tmp_path / "in.jsonl", lines))) == 0
    first = tmp_path / "first.jsonl"
    assert run("export", str(first)) == 0
    assert len(first.read_bytes().splitlines()) == 4

    monkeypatch.setenv("DATA_DIR", str(tmp_path / "empty"))
    assert run("import", str(first)) == 0
    second = tmp_path / "second.jsonl"
    assert run("export", str(second)) == 0
    assert second.read_bytes() == first.read_bytes()

    only = tmp_path / "only.jsonl"
    assert run("export", str(only), "--outdial", other) == 0
    assert [json.loads(line)["id"] for line in only.read_text().splitlines()] == [tid(3)]


def test_export_writes_to_standard_output(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("import", str(write_lines(tmp_path / "in.jsonl", [document(1)]))) == 0
    capsys.readouterr()
    result = subprocess.run(
        [sys.executable, "-m", "cli", "export"],
        cwd=REPO_ROOT,
        env=dict(os.environ) | {"PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    assert json.loads(line)["id"] == tid(1)
    assert b"exported 1 target(s)" in result.stderr
