"""The embedded store's tables, indexes and triggers: every SQL definition, written once."""

from __future__ import annotations

from domain.models import SLOTS

# 2: destination keys. 3: every row derived again, the document reader having grown stricter.
# 4: the zone column (DOMAIN.md v3 time zones).
VERSION = 4

# `doc` is the stored document as-is (JSON); the other columns are derived from it by
# storage.sqlite.rows, in the same write, for the indexes. `live`: readable and not deleted.
TARGETS = """
CREATE TABLE IF NOT EXISTS targets (
    id TEXT PRIMARY KEY NOT NULL,
    doc TEXT NOT NULL,
    readable INTEGER NOT NULL,
    live INTEGER NOT NULL,
    outdial_id TEXT,
    status TEXT,
    tm_create TEXT,
    tm_update TEXT,
    tried INTEGER NOT NULL,
    lease TEXT,
    zone TEXT,
    {slot_columns}
)
""".format(
    slot_columns=",\n    ".join(
        f"has{slot} INTEGER NOT NULL, try{slot} INTEGER NOT NULL" for slot in SLOTS
    )
)

COLUMNS = (
    "id",
    "doc",
    "readable",
    "live",
    "outdial_id",
    "status",
    "tm_create",
    "tm_update",
    "tried",
    "lease",
    "zone",
    *(f"has{slot}" for slot in SLOTS),
    *(f"try{slot}" for slot in SLOTS),
)

# Counts per outdial and status, kept by triggers in the transaction of every write: O(1) counts
# and an outdial listing that never reads targets.
COUNTS = """
CREATE TABLE IF NOT EXISTS outdial_counts (
    outdial_id TEXT NOT NULL,
    status TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (outdial_id, status)
) WITHOUT ROWID
"""

_COUNT_UP = """
    INSERT INTO outdial_counts (outdial_id, status, n)
    SELECT NEW.outdial_id, NEW.status, 1 WHERE NEW.live
    ON CONFLICT (outdial_id, status) DO UPDATE SET n = n + 1;
"""
_COUNT_DOWN = """
    UPDATE outdial_counts SET n = n - 1
    WHERE OLD.live AND outdial_id = OLD.outdial_id AND status = OLD.status;
    DELETE FROM outdial_counts
    WHERE OLD.live AND outdial_id = OLD.outdial_id AND status = OLD.status AND n <= 0;
"""

TRIGGERS = (
    f"CREATE TRIGGER IF NOT EXISTS count_insert AFTER INSERT ON targets BEGIN {_COUNT_UP} END",
    f"CREATE TRIGGER IF NOT EXISTS count_delete AFTER DELETE ON targets BEGIN {_COUNT_DOWN} END",
    "CREATE TRIGGER IF NOT EXISTS count_update AFTER UPDATE OF live, outdial_id, status ON targets"
    " WHEN OLD.live IS NOT NEW.live OR OLD.outdial_id IS NOT NEW.outdial_id"
    f" OR OLD.status IS NOT NEW.status BEGIN {_COUNT_DOWN} {_COUNT_UP} END",
)

# One row per lookup key (domain.destinations) of each live target: outdialtargetsByDestination
# newest first from the primary key alone. Written with the target, in the same transaction.
DESTINATION_KEYS = """
CREATE TABLE IF NOT EXISTS destination_keys (
    type TEXT NOT NULL,
    target TEXT NOT NULL,
    tm_create TEXT NOT NULL,
    id TEXT NOT NULL,
    PRIMARY KEY (type, target, tm_create, id)
) WITHOUT ROWID
"""
DESTINATION_KEYS_BY_ID = (
    "CREATE INDEX IF NOT EXISTS destination_keys_by_id ON destination_keys (id)"
)

LIVE = "live = 1"
IDLE_WITH = "live = 1 AND status = 'idle' AND has{slot} = 1"

INDEXES = (
    f"CREATE INDEX IF NOT EXISTS list_newest_first ON targets "
    f"(outdial_id, tm_create DESC, id DESC) WHERE {LIVE}",
    f"CREATE INDEX IF NOT EXISTS list_by_status ON targets "
    f"(outdial_id, status, tm_create DESC, id DESC) WHERE {LIVE}",
    "CREATE INDEX IF NOT EXISTS unreadable ON targets (id) WHERE readable = 0",
    "CREATE INDEX IF NOT EXISTS by_outdial ON targets (outdial_id, id) WHERE readable = 1",
    f"CREATE INDEX IF NOT EXISTS lease_end ON targets (lease) "
    f"WHERE {LIVE} AND status = 'progressing' AND lease IS NOT NULL",
    f"CREATE INDEX IF NOT EXISTS progressing_since ON targets (outdial_id, tm_update) "
    f"WHERE {LIVE} AND status = 'progressing'",
    # One claim index per slot: candidates by (tried, try count), each in claim order.
    *(
        f"CREATE INDEX IF NOT EXISTS claim_slot{slot} ON targets "
        f"(outdial_id, tried, try{slot}, tm_update, id) WHERE {IDLE_WITH.format(slot=slot)}"
        for slot in SLOTS
    ),
    # The claim under a calling window: the same per zone, and the zones present, one seek each.
    *(
        f"CREATE INDEX IF NOT EXISTS window_slot{slot} ON targets "
        f"(outdial_id, zone, tried, try{slot}, tm_update, id) WHERE {IDLE_WITH.format(slot=slot)}"
        for slot in SLOTS
    ),
)

META = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"

# The change log (storage.sqlite.changelog): what each write changed, appended in its
# transaction, so every process publishes every change in commit order. A status row holds the
# previous status and the document after the change; an outdial row (both NULL) says that the
# outdial's targets were created or deleted. AUTOINCREMENT: a pruned seq is never used again.
CHANGES = """
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    outdial_id TEXT NOT NULL,
    previous_status TEXT,
    doc TEXT
)
"""
# Now, in seconds since the epoch, as SQLite reads the clock.
NOW = "((julianday('now') - 2440587.5) * 86400.0)"

CHANGE_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS log_status AFTER UPDATE OF status ON targets"
    " WHEN OLD.readable = 1 AND NEW.readable = 1 AND OLD.status IS NOT NEW.status"
    " BEGIN INSERT INTO changes (at, outdial_id, previous_status, doc)"
    f" VALUES ({NOW}, NEW.outdial_id, OLD.status, NEW.doc); END",
    "CREATE TRIGGER IF NOT EXISTS log_live AFTER UPDATE OF live ON targets"
    " WHEN OLD.live IS NOT NEW.live"
    f" BEGIN INSERT INTO changes (at, outdial_id) SELECT {NOW}, outdial_id"
    " FROM (SELECT coalesce(OLD.outdial_id, NEW.outdial_id) AS outdial_id)"
    " WHERE outdial_id IS NOT NULL; END",
)

# Tables and triggers; the indexes come after a file of an earlier version has been upgraded.
TABLES = (
    TARGETS,
    COUNTS,
    DESTINATION_KEYS,
    DESTINATION_KEYS_BY_ID,
    META,
    CHANGES,
    *TRIGGERS,
    *CHANGE_TRIGGERS,
)
# Version 4's column on a file of an earlier version: no document there has a time_zone yet.
ADD_ZONE = "ALTER TABLE targets ADD COLUMN zone TEXT"
