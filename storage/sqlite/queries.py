"""Every SQL statement the embedded store's repository runs, written once."""

from __future__ import annotations

from domain.models import SLOTS
from storage.sqlite.schema import COLUMNS, IDLE_WITH, LIVE

PLACEHOLDERS = ", ".join("?" for _ in COLUMNS)
INSERT = f"INSERT INTO targets ({', '.join(COLUMNS)}) VALUES ({PLACEHOLDERS})"
INSERT_NEW = f"INSERT OR IGNORE INTO targets ({', '.join(COLUMNS)}) VALUES ({PLACEHOLDERS})"
REWRITE = f"UPDATE targets SET ({', '.join(COLUMNS)}) = ({PLACEHOLDERS}) WHERE id = ?"
DOC_BY_ID = "SELECT doc FROM targets WHERE id = ?"
LIST = (
    f"SELECT doc FROM targets WHERE {LIVE} AND outdial_id = ? {{status}} {{after}}"
    " ORDER BY tm_create DESC, id DESC LIMIT ?"
)
LAPSED = (
    f"SELECT doc FROM targets WHERE {LIVE} AND status = 'progressing' AND lease IS NOT NULL"
    " AND lease <= ? ORDER BY lease LIMIT ?"
)
PROGRESSING_SINCE = (
    f"SELECT doc FROM targets WHERE {LIVE} AND status = 'progressing' AND outdial_id = ?"
    " AND tm_update <= ? ORDER BY tm_update LIMIT ?"
)
COUNTS = "SELECT status, n FROM outdial_counts WHERE outdial_id = ?"
# Per slot: the next try count present below the maximum, and the candidates with one try count,
# in claim order; both served by that slot's claim index alone.
NEXT_TRIES = [
    f"SELECT try{slot} FROM targets INDEXED BY claim_slot{slot}"
    f" WHERE {IDLE_WITH.format(slot=slot)} AND outdial_id = ? AND tried = 1"
    f" AND try{slot} >= ? AND try{slot} < ? ORDER BY try{slot} LIMIT 1"
    for slot in SLOTS
]
TRIED = [
    f"SELECT tm_update, id FROM targets INDEXED BY claim_slot{slot}"
    f" WHERE {IDLE_WITH.format(slot=slot)} AND outdial_id = ? AND tried = 1 AND try{slot} = ?"
    " AND tm_update <= ? ORDER BY tm_update, id LIMIT ?"
    for slot in SLOTS
]
NEVER_TRIED = [
    f"SELECT tm_update, id FROM targets INDEXED BY claim_slot{slot}"
    f" WHERE {IDLE_WITH.format(slot=slot)} AND outdial_id = ? AND tried = 0 AND try{slot} = 0"
    " ORDER BY tm_update, id LIMIT ?"
    for slot in SLOTS
]


def docs_by_id(count: int) -> str:
    return f"SELECT doc FROM targets WHERE id IN ({', '.join('?' for _ in range(count))})"
