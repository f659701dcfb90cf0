"""Hostile lines for `outdial-graphql import`: every bad line is reported as `line N: field:
reason` and the import writes nothing (exit 1), or with --skip-bad writes the good lines (exit 0);
never a traceback. The cases of the 332-case probe first, then a property test that mutates good
lines, then a few cases through a real process."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.models import MAX_TRY_COUNT
from tests.support.documents import tid
from tests.support.import_files import document, run, stored, write_lines
from tests.support.live_server import REPO_ROOT

TOKEN = "1b3d7a92-7146-466d-90f5-4bc701ada4c0"
TIME = "2022-04-30 17:52:16.484341"
TEN_MB = 10_000_000
TIME_RULE = "must be a UTC time YYYY-MM-DD HH:MM:SS.ffffff"
# Every line the importer writes to stderr besides its reports of bad lines.
SUMMARIES = [
    re.compile(r"[\d,]+ bad line\(s\): nothing imported"),
    re.compile(r"imported [\d,]+ of [\d,]+ targets \(\d+%\)"),
    re.compile(r"imported [\d,]+ target\(s\) from .*"),
]
REPORT = re.compile(r"line (\d+): (.*)")
REPORT_MAX = 200


@dataclass(frozen=True)
class Line:
    """One line of an import file and what the importer must make of it: `report` (a pattern)
    for a bad line, else `kept`, fields its stored document holds."""

    text: str
    report: str | None = None
    kept: tuple[tuple[str, Any], ...] = ()

    @property
    def blank(self) -> bool:
        return not self.text.strip()


def bad(n: int, report: str, **fields: Any) -> Line:
    if "id" in fields:
        fields.setdefault("_id", fields["id"])
    return Line(json.dumps(document(n, **fields)), report=report)


def good(n: int, **kept: Any) -> Line:
    return Line(json.dumps(document(n, **kept)), kept=tuple(kept.items()))


def with_raw(n: int, name: str, raw: str) -> str:
    """A good line whose field `name` holds `raw`, JSON text written as it is."""
    return json.dumps(document(n, **{name: "\x01"})).replace('"\\u0001"', raw)


@dataclass
class Outcome:
    status: int
    reports: dict[int, str]
    stored: dict[str, dict[str, Any]]


def import_lines(lines: list[Line], *options: str) -> Outcome:
    """`outdial-graphql import` in this process, on a file of `lines` and a fresh store."""
    with tempfile.TemporaryDirectory() as work, pytest.MonkeyPatch.context() as env:
        data_dir = Path(work) / "data"
        env.setenv("DATA_DIR", str(data_dir))
        env.delenv("MONGODB_URL", raising=False)
        path = Path(work) / "in.jsonl"
        text = "".join(line.text + "\n" for line in lines)
        path.write_bytes(text.encode("utf-8", "surrogateescape"))
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            status = run("import", *options, str(path))
        reports = parse_stderr(err.getvalue())
        return Outcome(status, reports, stored(data_dir) if data_dir.exists() else {})


def parse_stderr(text: str) -> dict[int, str]:
    """The reports of bad lines by line number; any other line must be a known summary."""
    reports: dict[int, str] = {}
    for line in text.splitlines():
        assert len(line) <= REPORT_MAX, line[:300]
        report = REPORT.fullmatch(line)
        if report is None:
            assert any(summary.fullmatch(line) for summary in SUMMARIES), line
            continue
        number = int(report.group(1))
        assert number not in reports, f"line {number} reported twice"
        reports[number] = report.group(2)
    return reports


def check(lines: list[Line]) -> None:
    """Both ways of importing `lines`: all or nothing, and --skip-bad."""
    bad_lines = {n: line.report for n, line in enumerate(lines, 1) if line.report is not None}
    good_lines = [line for line in lines if line.report is None and not line.blank]

    strict = import_lines(lines)
    assert strict.status == (1 if bad_lines else 0)
    assert_reports(strict.reports, bad_lines)
    assert len(strict.stored) == (0 if bad_lines else len(good_lines))

    skipping = import_lines(lines, "--skip-bad")
    assert skipping.status == 0
    assert_reports(skipping.reports, bad_lines)
    assert len(skipping.stored) == len(good_lines)
    for line in good_lines:
        doc = skipping.stored[json.loads(line.text)["id"].lower()]
        for name, value in line.kept:
            assert doc[name] == normalised(name, value), (name, doc[name], value)
            assert type(doc[name]) is type(normalised(name, value))


def assert_reports(reports: dict[int, str], expected: dict[int, str]) -> None:
    assert sorted(reports) == sorted(expected)
    for number, pattern in expected.items():
        assert re.match(pattern, reports[number]), (number, reports[number][:200], pattern)
        assert re.fullmatch(r".+: .+", reports[number]), "field: reason"


def normalised(name: str, value: Any) -> Any:
    """A kept value as the store holds it: integral floats as integers, UUIDs lowercased."""
    if isinstance(value, float):
        return int(value)
    return value.lower() if name in UUID_FIELDS else value


UUID_FIELDS = {"id", "_id", "outdial_id", "claim_token"}


# ---- The cases of the probe (issue 17, finding 8) ----

PROBE = [
    bad(2, "try_count_0: must be a whole number from 0 to 2147483647", try_count_0=2**40),
    bad(3, "try_count_1: ", try_count_1=2**31),
    bad(4, "try_count_2: ", try_count_2=2**63 - 1),
    bad(5, "try_count_3: ", try_count_3=2**64 - 1),
    bad(6, "try_count_4: ", try_count_4=2**64),
    bad(7, "try_count_0: ", try_count_0=-(2**63)),
    bad(8, f"tm_update: {TIME_RULE}", tm_update="2022-4-30 17:52:16.484341"),
    bad(9, "tm_create: ", tm_create="2022-04-30 17:52:16.4"),
    bad(10, "tm_update: ", tm_update="２０２２-04-30 17:52:16.484341"),
    bad(11, "tm_delete: ", tm_delete="2022-04-30 17:52:16.48434１"),
    bad(12, "claim_token: must be null unless status is progressing", claim_token=TOKEN),
    bad(13, "tm_lease_expire: must be null unless", status="done", tm_lease_expire=TIME),
    bad(14, "claim_token: must be null unless", status="done", claim_token=TOKEN.upper()),
    Line(with_raw(15, "try_count_0", "NaN"), report="not JSON: "),
    Line(with_raw(16, "try_count_1", "Infinity"), report="not JSON: "),
    Line(with_raw(17, "try_count_2", "-Infinity"), report="not JSON: "),
    bad(18, re.escape(f"'{'k' * 55}...': unknown field"), **{"k" * TEN_MB: 1}),
    good(19, try_count_0=1.0, try_count_4=float(MAX_TRY_COUNT)),
    good(20, status="progressing", claim_token=TOKEN.upper(), tm_lease_expire=TIME),
    good(21, id=tid(21).upper(), _id=tid(21).upper()),
]  # fmt: skip


def test_every_case_of_the_probe_is_refused_or_read_as_the_contract_says() -> None:
    check([good(1), *PROBE, good(99)])


def test_an_upper_case_claim_token_is_stored_lowercased_and_can_be_reported(
    tmp_path: Path, data_dir: Path
) -> None:
    line = document(1, status="progressing", claim_token=TOKEN.upper())
    assert run("import", str(write_lines(tmp_path / "in.jsonl", [line]))) == 0
    assert stored(data_dir)[tid(1)]["claim_token"] == TOKEN


# ---- The property test ----

STRING_FIELDS = ["id", "outdial_id", "status", "name", "detail", "data", "claim_token"]
TIME_FIELDS = ["tm_create", "tm_update", "tm_delete", "tm_lease_expire"]
TRY_COUNTS = [f"try_count_{slot}" for slot in range(5)]
ASCII_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}")
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")

not_strings = st.one_of(
    st.integers(-(2**70), 2**70),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.integers(0, 9), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(0, 9), max_size=2),
)
bad_counts = st.one_of(
    st.integers(max_value=-1, min_value=-(2**1000)),
    st.integers(min_value=MAX_TRY_COUNT + 1, max_value=2**1000),
    st.integers(-(10**6), 10**6).map(lambda whole: whole + 0.5),
    st.floats(min_value=MAX_TRY_COUNT + 1, allow_infinity=False),
    st.floats(max_value=-1, allow_infinity=False),
    st.text(max_size=5),
    st.booleans(),
    st.lists(st.integers(0, 9), max_size=2),
)
bad_times = st.one_of(
    st.text(max_size=30).filter(lambda text: not ASCII_TIME.fullmatch(text)),
    st.sampled_from(
        [
            "2022-4-30 17:52:16.484341",
            "2022-04-30 7:52:16.484341",
            "2022-04-30 17:52:16.4",
            "2022-04-30 17:52:16",
            "2022-04-30T17:52:16.484341",
            "2022-04-31 17:52:16.484341",
            "2021-02-29 17:52:16.484341",
            "2022-04-30 24:00:00.000000",
            "2022-04-30 17:60:16.484341",
            "0000-01-01 00:00:00.000000",
            " 2022-04-30 17:52:16.484341",
        ]
    ),
    st.integers(0, len(TIME) - 1)
    .filter(lambda at: TIME[at].isdigit())
    .map(lambda at: TIME[:at] + TIME[at].translate(FULL_WIDTH) + TIME[at + 1 :]),
)
surrogates = st.builds(
    lambda before, lone, after: before + lone + after,
    st.text(max_size=5),
    st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"]),
    st.text(max_size=5),
)


@st.composite
def bad_lines(draw: st.DrawFn, n: int) -> Line:
    kind = draw(st.integers(0, 12))
    if kind == 0:
        name = draw(st.sampled_from(STRING_FIELDS + TIME_FIELDS))
        return bad(n, re.escape(name) + ": ", **{name: draw(not_strings)})
    if kind == 1:
        name = draw(st.sampled_from(TRY_COUNTS))
        return bad(n, re.escape(name) + ": ", **{name: draw(bad_counts)})
    if kind == 2:
        name = draw(st.sampled_from(TIME_FIELDS))
        return bad(n, re.escape(name) + ": ", status="progressing", **{name: draw(bad_times)})
    if kind == 3:
        name, value = draw(st.sampled_from([("claim_token", TOKEN), ("tm_lease_expire", TIME)]))
        status = draw(st.sampled_from(["idle", "done"]))
        return bad(n, re.escape(name) + ": must be null", status=status, **{name: value})
    if kind == 4:
        key = draw(st.text(min_size=1, max_size=20))
        address = document(n)["destination_0"]
        known = {*document(n), "claim_token", "tm_lease_expire", *address}
        while key in known:
            key += "x"
        if draw(st.booleans()):
            return bad(n, r".{1,60}: unknown field$", **{key: 1})
        address = address | {key: ""}
        return bad(n, r"destination_0\..{1,60}: unknown field$", destination_0=address)
    if kind == 5:
        name = f"destination_{draw(st.integers(0, 4))}"
        value = draw(st.one_of(st.text(max_size=5), st.integers(), st.lists(st.none(), max_size=2)))
        return bad(n, re.escape(name) + ": ", **{name: value})
    if kind == 6:
        target = draw(st.text(max_size=20).filter(lambda text: "+" not in text))
        address = {"type": draw(st.sampled_from(["tel", "whatsapp"])), "target": target}
        return bad(n, r"destination_0\.target: ", destination_0=address)
    if kind == 7:
        name = draw(st.sampled_from(["name", "detail", "data", "id", "status"]))
        return bad(n, "not JSON: ", **{name: draw(surrogates)})
    if kind == 8:
        name = draw(st.sampled_from(["id", "outdial_id", "status", "tm_update"]))
        return bad(n, re.escape(name) + ": ", **{name: f"{tid(n)[:10]}\x00{tid(n)[11:]}"})
    if kind == 9:
        raw = draw(st.sampled_from(['"a\x00b"', "NaN", "Infinity", "-Infinity", "nan", "1e400"]))
        return Line(with_raw(n, draw(st.sampled_from(["name", "try_count_0"])), raw), "not JSON: ")
    if kind == 10:
        depth = draw(st.integers(1, 3000))
        nested = "[" * depth + "]" * depth
        return Line(with_raw(n, "name", nested), r"(name: must be a string|not JSON: )")
    if kind == 11:
        name = draw(st.sampled_from(["name", "detail", "data", "outdial_id", "unknown"]))
        huge = '"' + "y" * TEN_MB + '"'  # written as it is: json.dumps takes long for 10 MB
        if name == "unknown":
            text = "{" + huge + ": 0, " + json.dumps(document(n))[1:]
            return Line(text, r"'y{55}\.\.\.': unknown field$")
        return Line(with_raw(n, name, huge), re.escape(name) + ": must be ")
    raw = draw(st.binary(min_size=1, max_size=40).filter(lambda raw: raw.strip()))
    text = raw.replace(b"\n", b" ").decode("utf-8", "surrogateescape")
    return Line(text, r"(not JSON|not a JSON object|id|.*unknown field)")


@st.composite
def good_lines(draw: st.DrawFn, n: int) -> Line:
    kind = draw(st.integers(0, 4))
    if kind == 0:
        return good(n)
    if kind == 1:
        count = draw(st.integers(0, MAX_TRY_COUNT))
        return good(n, **{draw(st.sampled_from(TRY_COUNTS)): float(count)})
    if kind == 2:
        return good(n, status="progressing", claim_token=TOKEN.upper())
    if kind == 3:
        name = draw(st.text(max_size=255).filter(lambda text: not any(
            "\ud800" <= c <= "\udfff" for c in text)))  # fmt: skip
        return good(n, name=name)
    return good(n, outdial_id=document(n)["outdial_id"].upper())


@st.composite
def import_files(draw: st.DrawFn) -> list[Line]:
    """A good first line (a bad first line may refuse the whole file), then good, bad and
    blank lines."""
    lines = [good(1)]
    for n in range(2, draw(st.integers(3, 14))):
        line = draw(st.one_of(bad_lines(n), good_lines(n)))
        lines += [Line("")] * draw(st.integers(0, 1)) + [line]
    return lines


@settings(max_examples=25, deadline=None)
@given(import_files())
def test_every_bad_line_is_reported_by_number_and_field(lines: list[Line]) -> None:
    check(lines)


# ---- Through a real process: what reaches the console ----

HOSTILE = [
    bad(2, "try_count_0: ", try_count_0=1099511627776),
    bad(3, "tm_update: ", tm_update="2022-04-30 17:52:16.4"),
    bad(4, "tm_create: ", tm_create="2022-4-30 17:52:16.484341"),
    Line(with_raw(5, "try_count_0", "NaN"), report="not JSON: "),
    Line(with_raw(6, "name", '"\\ud800"'), report="not JSON: "),
    Line(with_raw(7, "name", "[" * 5000 + "]" * 5000), report="not JSON: "),
    Line("\x00\x01\x02 not json \udcff", report="not JSON: "),
    bad(8, "'z{55}...': unknown field", **{"z" * 1_000_000: 1}),
]


@pytest.mark.parametrize("options", [[], ["--skip-bad"]], ids=["all-or-nothing", "skip-bad"])
def test_no_traceback_reaches_the_console(
    tmp_path: Path, data_dir: Path, options: list[str]
) -> None:
    lines = [good(1), *HOSTILE, good(9)]
    path = tmp_path / "hostile.jsonl"
    path.write_bytes("".join(line.text + "\n" for line in lines).encode("utf-8", "surrogateescape"))
    process = subprocess.run(
        [sys.executable, "-m", "cli", "import", *options, str(path)],
        cwd=REPO_ROOT,
        env=dict(os.environ) | {"PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        errors="backslashreplace",
        timeout=120,
    )
    assert "Traceback" not in process.stderr
    assert process.returncode == (0 if options else 1), process.stderr[-2000:]
    expected = {n: line.report for n, line in enumerate(lines, 1) if line.report is not None}
    assert_reports(parse_stderr(process.stderr), expected)
    assert set(stored(data_dir)) == ({tid(1), tid(9)} if options else set())
