"""No hot path scans: every query the embedded store runs is answered from an index."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.models import SLOTS
from storage.sqlite import queries
from storage.sqlite.database import _create_schema, connect
from storage.sqlite.schema import COLUMNS

OUTDIAL = "40bea034-1d17-474d-a5de-da00d0861c69"
TARGET = "00000000-0000-4000-8000-000000000001"
TIME = "2024-01-01 00:00:00.000000"


@pytest.fixture(scope="module")
def connection(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    path: Path = tmp_path_factory.mktemp("plans") / "targets.sqlite3"
    opened = connect(path)
    _create_schema(opened)
    yield opened
    opened.close()


def plan(connection: sqlite3.Connection, query: str, parameters: tuple[object, ...]) -> str:
    rows = connection.execute(f"EXPLAIN QUERY PLAN {query}", parameters).fetchall()
    return " / ".join(row[-1] for row in rows)


LIST_FIRST = queries.listing(status=False, cursor=False, newest_first=True)
LIST_NEXT = queries.listing(status=True, cursor=True, newest_first=True)
LIST_LAST = queries.listing(status=False, cursor=False, newest_first=False)
LIST_BEFORE = queries.listing(status=False, cursor=True, newest_first=False)
LIST_BEFORE_OF_STATUS = queries.listing(status=True, cursor=True, newest_first=False)

CASES = [
    pytest.param(queries.DOC_BY_ID, (TARGET,), "USING INDEX sqlite_autoindex_targets_1", id="get"),
    pytest.param(queries.LAPSED, (TIME, 100), "USING INDEX lease_end", id="lapse-sweep"),
    pytest.param(
        queries.PROGRESSING_SINCE, (OUTDIAL, TIME, 100), "INDEX progressing_since", id="release"
    ),
    pytest.param(queries.EVERY_OF_OUTDIAL, (OUTDIAL,), "INDEX by_outdial", id="export-outdial"),
    pytest.param(queries.docs_by_id(3), (TARGET,) * 3, "sqlite_autoindex", id="get-many"),
    pytest.param(LIST_FIRST, (OUTDIAL, 100), "USING INDEX list_newest_first", id="first-page"),
    pytest.param(
        LIST_NEXT, (OUTDIAL, "idle", TIME, TARGET, 100), "USING INDEX list_by_status", id="next"
    ),
    pytest.param(LIST_LAST, (OUTDIAL, 100), "USING INDEX list_newest_first", id="last-page"),
    pytest.param(
        LIST_BEFORE, (OUTDIAL, TIME, TARGET, 100), "USING INDEX list_newest_first", id="before"
    ),
    pytest.param(
        LIST_BEFORE_OF_STATUS,
        (OUTDIAL, "idle", TIME, TARGET, 100),
        "USING INDEX list_by_status",
        id="before-of-status",
    ),
    pytest.param(queries.COUNTS, (OUTDIAL,), "USING PRIMARY KEY", id="counts"),
    pytest.param(queries.OUTDIALS_AFTER, (OUTDIAL, 101), "PRIMARY KEY", id="outdials"),
    pytest.param(queries.OUTDIALS_BEFORE, (OUTDIAL, 1), "PRIMARY KEY", id="outdials-before"),
    pytest.param(
        queries.by_destination(cursor=False, newest_first=True),
        ("tel", "+821100000001", 100),
        "SEARCH k USING PRIMARY KEY",
        id="by-destination",
    ),
    pytest.param(
        queries.by_destination(cursor=True, newest_first=True),
        ("tel", "+821100000001", TIME, TARGET, 100),
        "SEARCH k USING PRIMARY KEY",
        id="by-destination-next",
    ),
    pytest.param(
        queries.by_destination(cursor=True, newest_first=False),
        ("tel", "+821100000001", TIME, TARGET, 1),
        "SEARCH k USING PRIMARY KEY",
        id="by-destination-before",
    ),
    pytest.param(
        queries.TOTAL_OF_DESTINATION,
        ("tel", "+821100000001"),
        "destination_keys USING PRIMARY KEY",
        id="by-destination-total",
    ),
    pytest.param(queries.DELETE_KEYS, (TARGET,), "destination_keys_by_id", id="delete-keys"),
    pytest.param(queries.TOTAL, (OUTDIAL,), "USING PRIMARY KEY", id="total"),
    pytest.param(queries.TOTAL_OF_STATUS, (OUTDIAL, "idle"), "USING PRIMARY KEY", id="total-of"),
    *(
        pytest.param(sql, args, f"INDEX claim_slot{slot}", id=f"{name}-{slot}")
        for slot in SLOTS
        for name, sql, args in (
            ("next-tries", queries.NEXT_TRIES[slot], (OUTDIAL, 1, 3)),
            ("tried", queries.TRIED[slot], (OUTDIAL, 1, TIME, 1)),
            ("never-tried", queries.NEVER_TRIED[slot], (OUTDIAL, 1)),
        )
    ),
]


@pytest.mark.parametrize("columns", [("doc", "status", "tm_update", "lease"), COLUMNS[1:]])
def test_the_rewrite_of_one_target_finds_it_by_key(
    connection: sqlite3.Connection, columns: tuple[str, ...]
) -> None:
    update = queries.update_of(columns)
    found = plan(connection, update, (None,) * update.count("?"))
    assert "SEARCH targets USING INDEX sqlite_autoindex_targets_1 (id=?)" in found, found


def test_start_up_reads_only_the_unreadable_documents(connection: sqlite3.Connection) -> None:
    """A scan, but of a partial index that holds the unreadable documents alone."""
    assert plan(connection, queries.UNREADABLE, ()) == "SCAN targets USING INDEX unreadable"


def test_the_never_tried_lookup_merges_its_slots_index_ranges_without_a_sort(
    connection: sqlite3.Connection,
) -> None:
    found = plan(connection, queries.never_tried(tuple(SLOTS)), (OUTDIAL, 100))
    assert "MERGE (UNION)" in found, found
    for slot in SLOTS:
        assert f"INDEX claim_slot{slot} (outdial_id=? AND tried=? AND try{slot}=?)" in found, found
    assert "SCAN" not in found, found
    assert "TEMP B-TREE" not in found, found


ZONE = "America/New_York"
# Each lookup within a zone is one range of its window index, a zone named or NULL (no zone)
# alike: the targets of other zones are never read.
WINDOWED = [
    pytest.param(
        sql, args, f"INDEX window_slot{slot} (outdial_id=? AND zone=?", id=f"{name}-{slot}"
    )
    for slot in SLOTS
    for zone in (ZONE, None)
    for name, sql, args in (
        (f"next-tries-in-{zone}", queries.NEXT_TRIES_IN_ZONE[slot], (OUTDIAL, zone, 1, 3)),
        (f"tried-in-{zone}", queries.TRIED_IN_ZONE[slot], (OUTDIAL, zone, 1, TIME, 1)),
        (f"never-tried-in-{zone}", queries.NEVER_TRIED_IN_ZONE[slot], (OUTDIAL, zone, 1)),
    )
]


def test_the_never_tried_lookup_within_a_zone_merges_its_slots_without_a_sort(
    connection: sqlite3.Connection,
) -> None:
    found = plan(connection, queries.never_tried_in_zone(tuple(SLOTS)), (OUTDIAL, ZONE, 100))
    assert "MERGE (UNION)" in found, found
    for slot in SLOTS:
        expected = f"INDEX window_slot{slot} (outdial_id=? AND zone=? AND tried=? AND try{slot}=?)"
        assert expected in found, found
    assert "SCAN" not in found, found
    assert "TEMP B-TREE" not in found, found


@pytest.mark.parametrize("slot", SLOTS)
def test_the_zones_present_are_found_by_one_seek_each(
    connection: sqlite3.Connection, slot: int
) -> None:
    """A skip along the window index: the first zone, then each next one after the last found
    (a recursive query, whose own queue is all it scans), and one seek for targets with none."""
    found = plan(connection, queries.ZONES_PRESENT[slot], (OUTDIAL,))
    seeks = found.split(" / ")
    assert (
        seeks.count(f"SEARCH targets USING INDEX window_slot{slot} (outdial_id=? AND zone>?)") == 2
    )
    assert f"SEARCH targets USING INDEX window_slot{slot} (outdial_id=? AND zone=?)" in seeks
    assert [step for step in seeks if step.startswith("SEARCH")] == [
        step for step in seeks if "targets" in step
    ], found
    assert "SCAN targets" not in found, found
    assert "TEMP B-TREE" not in found, found


def test_the_zones_present_come_from_the_idle_targets_of_the_outdial_alone(
    connection: sqlite3.Connection,
) -> None:
    rows = [
        ("a", "idle", 1, "Asia/Seoul"),
        ("b", "idle", 1, "Asia/Seoul"),
        ("c", "idle", 1, None),
        ("d", "idle", 1, "Europe/Berlin"),
        ("e", "done", 1, "America/Chicago"),
        ("f", "idle", 0, "America/Denver"),
    ]
    connection.execute("SAVEPOINT zones")
    for key, status, live, zone in rows:
        connection.execute(
            "INSERT INTO targets (id, doc, readable, live, outdial_id, status, tm_create,"
            " tm_update, tried, zone, has0, try0, has1, try1, has2, try2, has3, try3, has4, try4)"
            " VALUES (?, '{}', 1, ?, ?, ?, ?, ?, 0, ?, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0)",
            (key, live, OUTDIAL, status, TIME, TIME, zone),
        )
    found = [zone for (zone,) in connection.execute(queries.ZONES_PRESENT[0], (OUTDIAL,))]
    assert found == ["Asia/Seoul", "Europe/Berlin", None]
    assert list(connection.execute(queries.ZONES_PRESENT[1], (OUTDIAL,))) == []
    connection.execute("ROLLBACK TO zones")
    connection.execute("RELEASE zones")


@pytest.mark.parametrize(("query", "parameters", "index"), [*CASES, *WINDOWED])
def test_query_is_served_by_an_index_and_sorts_nothing(
    connection: sqlite3.Connection, query: str, parameters: tuple[object, ...], index: str
) -> None:
    found = plan(connection, query, parameters)
    assert index in found, found
    assert "SCAN" not in found, found
    assert "TEMP B-TREE" not in found, found
