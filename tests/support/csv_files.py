"""CSV lists for `outdial-graphql import --format csv`, and the command run on them."""

from __future__ import annotations

import codecs
from pathlib import Path

from tests.support.import_files import run

OUTDIAL = "40bea034-1d17-474d-a5de-da00d0861c69"
# The mapping of the example.
COLUMNS = (
    "name=Name,detail=Company,data=Notes,timeZone=TZ,destination0=tel:Mobile,"
    "destination1=tel:Office,destination2=email:Email"
)
HEADER = "CustomerId,Name,Company,Notes,TZ,Mobile,Office,Email"


def write_csv(path: Path, *rows: str, header: str = HEADER, bom: bool = False) -> Path:
    """A CSV file: `header`, then `rows` as written (CSV text), lines ended with CRLF as
    spreadsheets write them."""
    text = "".join(f"{line}\r\n" for line in (header, *rows))
    path.write_bytes((codecs.BOM_UTF8 if bom else b"") + text.encode())
    return path


def row(n: int, **cells: str) -> str:
    """The n-th of a run of good rows: customer Cn, a Korean mobile; `cells` override."""
    values = {
        "CustomerId": f"C{n}",
        "Name": f"customer {n}",
        "Company": "",
        "Notes": "",
        "TZ": "",
        "Mobile": f"+8210{n:08d}",
        "Office": "",
        "Email": "",
    } | cells
    return ",".join(values.values())


def import_csv(path: Path, *options: str) -> int:
    """The command in this process, with the issue's outdial and mapping."""
    return run("import", str(path), "--outdial", OUTDIAL, "--columns", COLUMNS, *options)
