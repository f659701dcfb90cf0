"""`outdial-graphql import --format csv`: a list as a spreadsheet saves it, its columns mapped to
target fields, every row checked as a create checks it, and run again without creating anything
twice."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import pytest

from storage.sqlite.database import FILE_NAME
from tests.support.csv_files import COLUMNS, HEADER, OUTDIAL, import_csv, row, write_csv
from tests.support.import_files import document, run, stored, write_lines


def by_name(data_dir: Path) -> dict[str, dict[str, Any]]:
    return {doc["name"]: doc for doc in stored(data_dir).values()}


def tel(number: str) -> dict[str, str]:
    return {"type": "tel", "target": number, "target_name": "", "name": "", "detail": ""}


def test_a_list_with_a_bom_and_quoted_commas_quotes_and_line_breaks_is_imported(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(
        tmp_path / "campaign.csv",
        'C1,"Kim, Ana","ACME ""Intl""","called twice\nprefers mornings",,+821012345678,,'
        "Ana@Example.COM",
        "C2,Bob,,,America/Chicago,,+12125550100,",
        bom=True,
    )

    assert import_csv(path) == 0

    assert capsys.readouterr().err.splitlines() == [
        "imported 2 of 2 targets (100%)",
        f"imported 2 target(s) from {path}",
    ]
    targets = by_name(data_dir)
    ana = targets["Kim, Ana"]
    assert (ana["outdial_id"], ana["detail"], ana["data"]) == (
        OUTDIAL,
        'ACME "Intl"',
        "called twice\nprefers mornings",
    )
    assert ana["destination_0"] == tel("+821012345678")
    assert ana["destination_1"] is None
    assert ana["destination_2"]["target"] == "ana@example.com"  # as a create stores it
    assert (ana["status"], ana["try_count_0"], ana["time_zone"]) == ("idle", 0, "Asia/Seoul")
    bob = targets["Bob"]
    assert (bob["destination_0"], bob["destination_1"]) == (None, tel("+12125550100"))
    assert bob["time_zone"] == "America/Chicago", "the TZ cell, not the number's New York"


def test_a_file_named_csv_needs_no_format_and_any_other_name_takes_format_csv(
    tmp_path: Path, data_dir: Path
) -> None:
    assert import_csv(write_csv(tmp_path / "a.CSV", row(1))) == 0
    assert import_csv(write_csv(tmp_path / "b.txt", row(2)), "--format", "csv") == 0
    assert sorted(by_name(data_dir)) == ["customer 1", "customer 2"]


BAD_ROWS = [
    (row(3, Mobile="", Email=""), "no destination (Mobile, Office, Email are all empty)"),
    (row(4, Mobile="12345"), "Mobile: must be + followed by 7 to 15 digits (E.164)"),
    (row(5, Email="ana@"), "Email: must be a valid email address"),
    (row(6, TZ="Mars/Base"), "TZ: must be a time zone name the zone database knows"),
    (row(7, Name="x" * 256), "Name: must be at most 255 characters"),
    (row(8, Notes="x" * 65_536), "Notes: must be at most 65,535 characters"),
    (row(9) + ",extra", "has 9 cells where the header row has 8"),
    (row(1, Name="again"), "CustomerId: the same key as row 2"),
    (row(10, CustomerId=" "), "CustomerId: empty, and every row needs its key"),
]


def bad_list(tmp_path: Path) -> Path:
    """Row 2 good, rows 3... bad (one of them two lines long), a blank row, the last good."""
    rows = [row(1), *(text for text, _ in BAD_ROWS), ",,,,,,,", row(11, Notes='"a\nb"')]
    rows[1] = rows[1].replace(",,,,", ',"one\ntwo",,,', 1)  # row 3: a line break in Company
    return write_csv(tmp_path / "campaign.csv", *rows)


def expected() -> list[str]:
    return [f"row {n}: {reason}" for n, (_, reason) in enumerate(BAD_ROWS, start=3)]


def reported(err: list[str]) -> list[str]:
    """The reports of bad rows, each cut to the length of the one expected in its place."""
    rows = [line for line in err if line.startswith("row ")]
    return [line[: len(want)] for line, want in zip(rows, expected(), strict=True)]


def test_bad_rows_are_reported_with_the_spreadsheets_row_numbers_and_nothing_is_written(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert import_csv(bad_list(tmp_path), "--key-column", "CustomerId") == 1

    reports = capsys.readouterr().err.splitlines()
    assert reported(reports) == expected()
    assert reports[len(BAD_ROWS) :] == [
        f"{len(BAD_ROWS)} bad row(s): nothing imported",
        f"imported 0 target(s) from {tmp_path / 'campaign.csv'}",
    ]
    assert stored(data_dir) == {}


def test_skip_bad_writes_the_good_rows_and_reports_the_bad_ones(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = bad_list(tmp_path)

    assert import_csv(path, "--key-column", "CustomerId", "--skip-bad") == 0

    err = capsys.readouterr().err.splitlines()
    assert reported(err) == expected()
    assert err[len(BAD_ROWS) :] == [
        "imported 2 of 2 targets (100%)",
        f"imported 2 target(s) from {path}, skipped {len(BAD_ROWS)} bad row(s)",
    ]
    targets = by_name(data_dir)
    assert sorted(targets) == ["customer 1", "customer 11"]
    assert targets["customer 11"]["data"] == "a\nb"


def test_a_cell_that_is_not_utf8_or_not_csv_is_a_bad_row(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path / "campaign.csv", row(1), row(2, Name="Ana"), row(3, Name='"Bo"b'))
    path.write_bytes(path.read_bytes().replace(b"Ana", b"An\xe9"))

    assert import_csv(path, "--skip-bad") == 0

    reports = [line for line in capsys.readouterr().err.splitlines() if line.startswith("row")]
    assert reports == ["row 3: Name: not UTF-8 text", "row 4: not CSV: ',' expected after '\"'"]
    assert sorted(by_name(data_dir)) == ["customer 1"]


def test_an_unclosed_quote_is_a_bad_row_at_the_end(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path / "campaign.csv", row(1), row(2, Notes='"never closed'), row(3))

    assert import_csv(path) == 1

    assert "row 3: not CSV: unexpected end of data" in capsys.readouterr().err
    assert stored(data_dir) == {}


def test_a_mapped_column_missing_from_the_header_is_refused_before_any_row_is_read(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path / "campaign.csv", "Ana,+821012345678", header="Name,Phone")

    assert import_csv(path, "--key-column", "CustomerId") == 2

    assert capsys.readouterr().err.splitlines() == [
        f"outdial-graphql: {path}: its header row has no column Company, Notes, TZ, Mobile, "
        "Office, Email, CustomerId (its columns: Name, Phone)"
    ]
    assert not data_dir.exists(), "nothing opened, nothing written"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("", "is empty: no header row"),
        ("Name,Mobile,Mobile", "its header row names column Mobile more than once"),
    ],
)
def test_a_header_that_will_not_do_is_a_usage_error(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str], header: str, message: str
) -> None:
    path = tmp_path / "campaign.csv"
    path.write_text(header)

    assert (
        run("import", str(path), "--outdial", OUTDIAL, "--columns", "destination0=tel:Mobile") == 2
    )

    assert capsys.readouterr().err == f"outdial-graphql: {path}: {message}\n"


def test_a_header_only_list_has_no_rows_to_import(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert import_csv(write_csv(tmp_path / "campaign.csv")) == 2
    assert capsys.readouterr().err.endswith("campaign.csv: is empty: no rows to import\n")


BAD_ARGUMENTS = [
    (["--columns", COLUMNS], "a CSV import needs --outdial"),
    (["--outdial", OUTDIAL], "a CSV import needs --columns"),
    (["--columns", "name=Name"], "argument --columns: maps no destination"),
    (["--columns", "destination0=Mobile"], "destination0 must be TYPE:COLUMN, like tel:Mobile"),
    (["--columns", "destination0=fax:Fax"], "destination0: unknown address type 'fax'"),
    (["--columns", "destination5=tel:M"], "unknown field 'destination5'"),
    (["--columns", "name=A,name=B,destination0=tel:M"], "name is mapped twice"),
    (["--columns", "destination0=tel:"], "destination0 names no column"),
    (["--columns", "destination0"], "'destination0' is not FIELD=COLUMN"),
    (["--columns", ""], "argument --columns: is empty"),
    (["--outdial", "campaign-7"], "argument --outdial: must be a UUID"),
]


@pytest.mark.parametrize(("argv", "reason"), BAD_ARGUMENTS, ids=lambda v: str(v)[:40])
def test_csv_arguments_that_will_not_do_are_one_line_and_exit_status_2(
    tmp_path: Path,
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    reason: str,
) -> None:
    path = write_csv(tmp_path / "campaign.csv", row(1))
    with pytest.raises(SystemExit) as finished:
        run("import", str(path), *argv)
    assert finished.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("outdial-graphql import: ") and reason in line, line
    assert not data_dir.exists()


def test_csv_arguments_on_a_json_lines_import_are_refused(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as finished:
        run("import", str(tmp_path / "in.jsonl"), "--key-column", "CustomerId")
    assert finished.value.code == 2
    assert "--key-column is for CSV files (--format csv)" in capsys.readouterr().err


def test_a_column_name_with_a_comma_is_mapped_by_quoting_its_entry(
    tmp_path: Path, data_dir: Path
) -> None:
    path = write_csv(
        tmp_path / "campaign.csv", '"Kim, Ana",+821012345678', header='"Last, first",Tel'
    )
    columns = '"name=Last, first",destination0=tel:Tel'
    assert run("import", str(path), "--outdial", OUTDIAL, "--columns", columns) == 0
    assert list(by_name(data_dir)) == ["Kim, Ana"]


@pytest.mark.parametrize("key", [[], ["--key-column", "CustomerId"]], ids=["content", "key"])
def test_the_same_list_imported_again_writes_nothing(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str], key: list[str]
) -> None:
    path = write_csv(tmp_path / "campaign.csv", *(row(n) for n in range(1, 6)))
    assert import_csv(path, *key) == 0
    before = stored(data_dir), (data_dir / FILE_NAME).stat().st_mtime_ns
    capsys.readouterr()

    assert import_csv(path, *key) == 0

    assert capsys.readouterr().err.splitlines() == [
        "5 target(s) stored already, as given: left alone",
        f"imported 0 target(s) from {path}",
    ]
    assert (stored(data_dir), (data_dir / FILE_NAME).stat().st_mtime_ns) == before


def test_a_grown_list_imported_again_adds_only_its_new_rows(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = ("--key-column", "CustomerId")
    assert import_csv(write_csv(tmp_path / "a.csv", row(1), row(2)), *key) == 0
    first = stored(data_dir)
    capsys.readouterr()

    grown = write_csv(tmp_path / "b.csv", row(3), row(2), row(1, Notes="moved rows"))
    assert import_csv(grown, *key, "--skip-bad") == 0

    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("row 4: CustomerId: the target of this row (id ")
    assert err[0].endswith(
        "is stored already with other content (changed since it was imported?): left as it is"
    )
    assert err[1:3] == [
        "1 target(s) stored already, as given: left alone",
        "imported 1 of 1 targets (100%)",
    ]
    after = stored(data_dir)
    assert {key: after[key] for key in first} == first, "row 1's target left as it was"
    assert sorted(doc["name"] for doc in after.values()) == [f"customer {n}" for n in (1, 2, 3)]


def test_without_a_key_column_a_repeated_row_is_a_bad_row(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path / "campaign.csv", row(1), row(2), row(1, CustomerId="other"))
    assert import_csv(path) == 1
    assert "row 4: the same target as row 2" in capsys.readouterr().err
    assert stored(data_dir) == {}


def test_time_zones_given_in_a_column_or_derived_from_the_first_placed_number(
    tmp_path: Path, data_dir: Path
) -> None:
    path = write_csv(
        tmp_path / "campaign.csv",
        row(1, TZ="Europe/Berlin"),
        row(2),
        row(3, Mobile="", Office="+12125550100"),
        row(4, Mobile="+61412345678", Office="+12125550100"),  # an Australian mobile: skipped
        row(5, Mobile="", Email="ana@example.com"),
        row(6, TZ=" US/Eastern "),
    )

    assert import_csv(path) == 0

    zones = {name: doc["time_zone"] for name, doc in by_name(data_dir).items()}
    assert zones == {
        "customer 1": "Europe/Berlin",
        "customer 2": "Asia/Seoul",
        "customer 3": "America/New_York",
        "customer 4": "America/New_York",
        "customer 5": None,
        "customer 6": "US/Eastern",
    }


def test_national_numbers_are_read_in_the_default_region_and_stored_in_e164(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(
        tmp_path / "campaign.csv",
        row(1, Mobile="010-1234-5678", Office="02-312-3456"),
        row(2, Mobile="010-12"),
        row(3, Mobile="+1 (212) 555-0100"),
    )

    assert import_csv(path, "--default-region", "kr") == 1
    assert "row 3: Mobile: not a valid number for region KR" in capsys.readouterr().err
    assert import_csv(path, "--default-region", "KR", "--skip-bad") == 0

    targets = by_name(data_dir)
    assert targets["customer 1"]["destination_0"] == tel("+821012345678")
    assert targets["customer 1"]["destination_1"] == tel("+8223123456")
    assert targets["customer 1"]["time_zone"] == "Asia/Seoul"
    assert targets["customer 3"]["destination_0"] == tel("+12125550100"), "+ needs no region"
    assert targets["customer 3"]["time_zone"] == "America/New_York"


def test_the_same_numbers_written_otherwise_are_the_same_targets(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a key column, a row's id comes from its numbers as stored: the list exported
    again from another tool, in another format, creates nothing twice."""
    us = ("--default-region", "US")
    first = write_csv(
        tmp_path / "a.csv", row(1, Mobile="(415) 555-0100"), row(2, Mobile="+1 613 555 0100")
    )
    assert import_csv(first, *us) == 0
    capsys.readouterr()
    again = write_csv(
        tmp_path / "b.csv", row(1, Mobile="+14155550100"), row(2, Mobile="613.555.0100")
    )

    assert import_csv(again, *us) == 0

    assert "2 target(s) stored already, as given: left alone" in capsys.readouterr().err
    targets = by_name(data_dir)
    assert [targets[f"customer {n}"]["destination_0"]["target"] for n in (1, 2)] == [
        "+14155550100",
        "+16135550100",  # a Canadian number, written nationally with US
    ]
    assert targets["customer 2"]["time_zone"] == "America/Toronto"


def test_without_a_default_region_a_national_number_is_a_bad_row(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert import_csv(write_csv(tmp_path / "a.csv", row(1, Mobile="010-1234-5678"))) == 1
    assert "row 2: Mobile: must be + followed by 7 to 15 digits (E.164)" in capsys.readouterr().err


@pytest.mark.parametrize("region", ["ZZ", "", "Korea"])
def test_a_region_libphonenumber_does_not_know_is_a_usage_error(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str], region: str
) -> None:
    with pytest.raises(SystemExit) as finished:
        import_csv(write_csv(tmp_path / "a.csv", row(1)), "--default-region", region)
    assert finished.value.code == 2
    assert "argument --default-region: must be a region code libphonenumber supports" in (
        capsys.readouterr().err
    )
    assert not data_dir.exists()


def test_json_lines_read_national_numbers_in_the_default_region_too(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    national = {"type": "tel", "target": "010-1234-5678"}
    lines = [
        document(1, destination_0=national),
        document(2, destination_1={"type": "tel", "target": "10-1234"}),
    ]
    path = write_lines(tmp_path / "in.jsonl", lines)

    assert run("import", str(path), "--default-region", "KR", "--skip-bad") == 0

    assert (
        "line 2: destination_1.target: not a valid number for region KR" in capsys.readouterr().err
    )
    (only,) = stored(data_dir).values()
    assert only["destination_0"]["target"] == "+821012345678"
    assert only["time_zone"] == "Asia/Seoul"


def test_a_list_on_standard_input_is_read_with_format_csv(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = f"\ufeff{HEADER}\r\n{row(1)}\r\n{row(2, Mobile='')}\r\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))

    assert import_csv(Path("-"), "--format", "csv", "--skip-bad") == 0

    assert capsys.readouterr().err.splitlines() == [
        "row 3: no destination (Mobile, Office, Email are all empty)",
        "imported 1 of 1 targets (100%)",
        "imported 1 target(s) from standard input, skipped 1 bad row(s)",
    ]
    assert list(by_name(data_dir)) == ["customer 1"]
