"""`import` holds every address field to version 3's bounds, as a create does: a 10 MB SIP
target or a NUL in a SIP user part is a bad line, reported in one short line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.import_files import document, run, stored, write_lines


@pytest.mark.parametrize(
    ("address", "report"),
    [
        (
            {"type": "sip", "target": "a" * 10_000_000 + "@pbx.example.com"},
            "line 2: destination_1.target: must be at most 255 characters",
        ),
        (
            {"type": "sip", "target": "ana\x00@pbx.example.com"},
            "line 2: destination_1.target: must not hold control characters",
        ),
        (
            {"type": "tel", "target": "+821012345678", "name": "tab\there"},
            "line 2: destination_1.name: must not hold control characters",
        ),
    ],
)
def test_an_address_out_of_bounds_is_a_bad_line(
    tmp_path: Path,
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
    address: dict[str, str],
    report: str,
) -> None:
    lines = [document(1), document(2, destination_1=address)]
    assert run("import", str(write_lines(tmp_path / "in.jsonl", lines))) == 1
    err = capsys.readouterr().err
    assert report in err, err
    assert max(len(line) for line in err.splitlines()) < 300
    assert stored(data_dir) == {}
