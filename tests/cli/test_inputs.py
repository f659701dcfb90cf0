"""Whatever else the command line reads, arguments and files, a bad one gives one clear line on
stderr and a non-zero exit, never a traceback, and writes nothing."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.import_files import document, run, stored, write_lines
from tests.support.live_server import REPO_ROOT

BAD_ARGUMENTS = [
    (["demo", "--count", "abc"], "argument --count: not a whole number: 'abc'"),
    (["demo", "--count", "0"], "argument --count: must be between 1 and 100,000"),
    (["demo", "--count", "100001"], "argument --count: must be between 1 and 100,000"),
    (["demo", "--count", "9" * 5000], "argument --count: must be between 1 and 100,000"),
    (["demo", "--count", "١٢"], "argument --count: not a whole number"),
    (["demo", "--count", " 12"], "argument --count: not a whole number"),
    (["demo", "--count", "1_2"], "argument --count: not a whole number"),
    (["demo", "--count", "-5"], "argument --count: not a whole number: '-5'"),
    (["demo", "--outdial", "campaign-7"], "argument --outdial: must be a UUID"),
    (["demo", "--outdial", ""], "argument --outdial: must be a UUID"),
    (["export", "--outdial", "x" * 100_000], "argument --outdial: must be a UUID"),
    (["import", "in.jsonl", "--batch-size", "0"], "argument --batch-size: must be between 1"),
    (["import", "in.jsonl", "--batch-size", "2.5"], "argument --batch-size: not a whole number"),
    (["import"], "the following arguments are required: FILE"),
    (["import", "in.jsonl", "--skip-good"], "unrecognized arguments: --skip-good"),
    (["fly"], "argument COMMAND: invalid choice: 'fly'"),
]


@pytest.mark.parametrize(("argv", "reason"), BAD_ARGUMENTS, ids=lambda v: str(v)[:30])
def test_a_bad_argument_is_one_line_and_exit_status_2(
    data_dir: Path, capsys: pytest.CaptureFixture[str], argv: list[str], reason: str
) -> None:
    with pytest.raises(SystemExit) as finished:
        run(*argv)
    assert finished.value.code == 2
    out, err = capsys.readouterr()
    (line,) = err.splitlines()
    assert line.startswith("outdial-graphql"), line
    assert reason in line, line
    assert len(line) <= 250, line[:300]
    assert out == ""
    assert not data_dir.exists()


def test_an_argument_echoed_whole_would_be_too_long_so_it_is_cut(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        run("demo", "--count", "x" * 1_000_000)
    (line,) = capsys.readouterr().err.splitlines()
    assert "not a whole number: 'xxxx" in line and line.endswith(
        "... (see outdial-graphql demo --help)"
    )


def unusable_files(tmp_path: Path) -> list[tuple[Path, str]]:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\n" + bytes(range(256)))
    binary = tmp_path / "data.bin"
    binary.write_bytes(b"\x00\x00\x00\x01\x7fELF" + bytes(range(128)))
    latin = tmp_path / "latin1.jsonl"
    latin.write_bytes('{"name": "Müller"}\n'.encode("latin-1"))
    utf16 = tmp_path / "utf16.jsonl"
    utf16.write_text('{"id": "x"}\n', encoding="utf-16")
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    blank = tmp_path / "blank.jsonl"
    blank.write_bytes(b"\n  \n\t\n")
    return [
        (tmp_path / "missing.jsonl", "no such file"),
        (tmp_path, "is a directory"),
        (photo, "not UTF-8 text (byte 0xff at offset 0 on its first line)"),
        (binary, "holds NUL bytes on its first line: a binary file, not JSON lines"),
        (latin, "not UTF-8 text (byte 0xfc at offset 11 on its first line)"),
        (utf16, "not UTF-8 text (byte 0xff at offset 0 on its first line)"),
        (empty, "is empty: no lines to import"),
        (blank, "is empty: no lines to import"),
    ]


@pytest.mark.parametrize("skip_bad", [False, True], ids=["all-or-nothing", "skip-bad"])
def test_a_file_that_cannot_be_imported_is_one_line_and_exit_status_2(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str], skip_bad: bool
) -> None:
    for path, reason in unusable_files(tmp_path):
        options = ["--skip-bad"] if skip_bad else []
        assert run("import", *options, str(path)) == 2, path
        out, err = capsys.readouterr()
        assert err.splitlines() == [f"outdial-graphql: {path}: {reason}"]
        assert out == ""
    if data_dir.exists():  # the empty files are found empty once the store is open
        assert stored(data_dir) == {}


def test_empty_standard_input_is_one_line_and_exit_status_2(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    assert run("import", "-") == 2
    assert capsys.readouterr().err.splitlines() == [
        "outdial-graphql: standard input: is empty: no lines to import"
    ]


def test_a_later_line_that_is_not_utf8_is_a_bad_line_of_its_own(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(
        write_lines(tmp_path / "good.jsonl", [document(1)]).read_bytes()
        + b'{"name": "M\xfcller"}\n\x00\x00\n'
    )
    assert run("import", "--skip-bad", str(path)) == 0
    reports = [line for line in capsys.readouterr().err.splitlines() if line.startswith("line ")]
    assert reports == [
        "line 2: not JSON: str is not valid UTF-8: surrogates not allowed at column 1",
        "line 3: not JSON: unexpected character, expected a JSON value at column 1",
    ]
    assert len(stored(data_dir)) == 1


def test_export_to_a_directory_is_one_line_and_a_non_zero_exit(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("export", str(tmp_path)) != 0
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("outdial-graphql: ") and str(tmp_path) in line


def test_the_schema_to_a_directory_is_one_line_and_a_non_zero_exit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("export-schema", str(tmp_path)) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("outdial-graphql: ") and str(tmp_path) in line


def test_export_into_a_pipe_closed_early_ends_quietly(data_dir: Path) -> None:
    """`export | head -1`: the reader stops early; the exporter ends without a word."""
    run("demo", "--count", "300")
    script = f"{sys.executable} -m cli export | head -c 100 > /dev/null; echo ${{PIPESTATUS[0]}}"
    finished = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=120, cwd=REPO_ROOT
    )
    assert finished.stderr == ""
    assert finished.stdout.strip() == str(128 + signal.SIGPIPE)
