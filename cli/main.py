"""The `outdial-graphql` command."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import re
import shutil
import signal
import sys
import tempfile
import uuid
from collections.abc import Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from server.serving.workers import CannotServe
from server.settings import Settings, SettingsError, environment_help
from storage.errors import CannotOpenStorage

if TYPE_CHECKING:
    import socket

    from cli.csv_columns import ColumnMap
    from cli.sources import Source
    from server.serving.workers import Ready
    from storage.backend import Storage

DEMO_COUNT = 50
STDIN = "-"
FORMATS = ("jsonl", "csv")
_CSV_ONLY = ("outdial", "columns", "key_column")
# ASCII digits only: int() would take "١٢", " 12 " and "1_2" too.
_DIGITS = re.compile(r"[0-9]+")
_MESSAGE_LIMIT = 200


def main(argv: Sequence[str] | None = None) -> int:
    """Settings that will not do (status 2) and a store that will not open (status 1) end the
    command in one line on stderr, never in a traceback."""
    args = _parser().parse_args(argv)
    try:
        result: int = args.command(Settings.from_env(), args)
    except SettingsError as error:
        return _fatal(error, status=2)
    except CannotOpenStorage as error:
        return _fatal(error, status=1)
    except CannotServe as error:
        return _fatal(error, status=error.status)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _reader_went_away()
    return result


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line (the subcommands are made of this class too)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {_cut(message)} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="outdial-graphql", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="run the GraphQL server",
        description="Run the GraphQL server, configured by the environment.",
        epilog=environment_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.set_defaults(command=_serve)
    export = commands.add_parser("export-schema", help="write the schema as SDL")
    export.add_argument("path", nargs="?", type=Path, help="file to write (default: stdout)")
    export.set_defaults(command=_export_schema)
    dump = commands.add_parser(
        "export",
        help="write targets as JSON lines of stored documents, as import reads them",
        description="Write every target (or one outdial's) as one stored document a line, in "
        "the shape `import` reads back: export, import into an empty store and export again "
        "give the same bytes. Documents the service cannot read are left out and counted.",
    )
    dump.add_argument("path", nargs="?", type=Path, help="file to write (default: stdout)")
    dump.add_argument("--outdial", type=_uuid, help="only this outdial's targets")
    dump.set_defaults(command=_export)
    load = commands.add_parser(
        "import",
        help="load targets from a JSON-lines file of stored documents, or a CSV list",
        description="Load targets from FILE (- for standard input): one stored document (JSON) "
        "a line, or with --format csv one target a row of a CSV file with a header row, its "
        "columns mapped by --columns. Every line or row is checked first; by default one bad "
        "one means nothing is imported (exit 1). Targets stored already, as given, are left "
        "alone: the same import run again writes nothing.",
    )
    load.add_argument("file", type=Path, metavar="FILE")
    load.add_argument(
        "--format",
        choices=FORMATS,
        help="jsonl or csv (default: csv for a FILE named *.csv, else jsonl)",
    )
    load.add_argument(
        "--skip-bad",
        action="store_true",
        help="import the good lines or rows, report and skip the bad ones",
    )
    load.add_argument(
        "--default-region",
        type=_region,
        metavar="REGION",
        help="read phone numbers written without + in this region's national format "
        "(KR, US, ...), stored in E.164",
    )
    load.add_argument(
        "--outdial", type=_uuid, metavar="ID", help="CSV: the outdial of every row (required)"
    )
    load.add_argument(
        "--columns",
        type=_columns,
        metavar="MAP",
        help="CSV (required): FIELD=COLUMN,... for name, detail, data and timeZone, and "
        "destinationN=TYPE:COLUMN (N 0-4; TYPE tel, whatsapp, email, sip, agent, ...), e.g. "
        "'name=Name,timeZone=TZ,destination0=tel:Mobile,destination1=email:Email'",
    )
    load.add_argument(
        "--key-column",
        metavar="COLUMN",
        help="CSV: the column that tells rows apart (a customer number): a row's id is derived "
        "from it, else from the row's content",
    )
    load.add_argument(
        "--batch-size",
        type=_whole(1, 10_000),
        help="targets a write (default: 200 on MongoDB; on the embedded store as many as "
        "take about 0.1 s)",
    )
    load.set_defaults(command=_import, parser=load)
    demo = commands.add_parser(
        "demo",
        help="fill an outdial with example targets; prints the outdial id",
        description="Create example targets (varied destinations and statuses) in an outdial "
        "and print its id.",
    )
    demo.add_argument("--outdial", type=_uuid, help="outdial id (default: a new random one)")
    demo.add_argument(
        "--count", type=_whole(1, 100_000), default=DEMO_COUNT, help=f"default {DEMO_COUNT}"
    )
    demo.set_defaults(command=_demo)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("outdial-graphql")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvloop  # uvicorn's own choice of event loop, as `uvicorn.run` makes it

    from server.observability import logs

    logs.configure(settings.log_level, settings.log_format)
    # Thousands of websockets keep millions of objects alive; with the default thresholds
    # full collections run every few seconds and pause every subscriber for up to 2 s. But
    # every closed connection leaves cycles (uvicorn's protocol, graphql-core's executors)
    # that only a collection of their generation frees: with full collections never
    # considered, those promoted once stayed for good (RSS grew all through a churn soak).
    # So the older generations are considered often, and CPython runs a full collection
    # only once a quarter of what it holds has arrived since the last one (bench/soak.py).
    gc.set_threshold(50_000, 10, 1)
    if settings.workers > 1:
        import server.app  # noqa: F401 -- once, before the workers are forked
        from server.serving.workers import supervise

        return supervise(settings, partial(_serve_worker, settings))
    return asyncio.run(_serving(settings), loop_factory=uvloop.new_event_loop)


def _serve_worker(settings: Settings, listener: socket.socket, ready: Ready) -> int:
    """One of WORKERS processes: what would end start-up in one line is the supervisor's to
    report, once for all of them."""
    import uvloop

    try:
        return asyncio.run(_serving(settings, listener, ready), loop_factory=uvloop.new_event_loop)
    except SettingsError as error:
        raise CannotServe(str(error), status=2) from None
    except CannotOpenStorage as error:
        raise CannotServe(str(error), status=1) from None


async def _serving(
    settings: Settings, listener: socket.socket | None = None, ready: Ready = lambda: None
) -> int:
    """Storage opens before the app: one that will not open ends start-up in one line
    (CannotOpenStorage, reported by main) rather than in a failed lifespan's traceback.
    `listener`: a socket already listening (WORKERS), else uvicorn binds HOST and PORT."""
    from server.app import create_app
    from server.serving.shutdown import GracefulServer
    from server.serving.transport import uvicorn_config

    async with _storage(settings) as storage:
        app = create_app(settings, storage=lambda: nullcontext(storage))
        gc.freeze()  # what start-up made lives as long as the process: no collection reads it
        config = uvicorn_config(app, settings)
        server = GracefulServer(config, app.state.websockets, on_started=ready)
        await server.serve(sockets=None if listener is None else [listener])
    return 0 if server.started else 1


def _export_schema(settings: Settings, args: argparse.Namespace) -> int:
    from schema.root import sdl

    text = sdl()
    if args.path is None:
        sys.stdout.write(text)
        return 0
    try:
        args.path.write_text(text)
    except OSError as error:
        return _fail(str(error))
    return 0


def _import(settings: Settings, args: argparse.Namespace) -> int:
    csv = _import_format(args) == "csv"
    if str(args.file) != STDIN:
        return _import_file(settings, args, args.file, str(args.file), csv=csv)
    # The importer reads its input twice (check every line, then write): keep stdin on disk.
    with tempfile.TemporaryDirectory(prefix="outdial-import-") as spool:
        path = Path(spool) / "stdin"
        with path.open("wb") as copy:
            shutil.copyfileobj(sys.stdin.buffer, copy)
        return _import_file(settings, args, path, "standard input", csv=csv)


def _import_format(args: argparse.Namespace) -> str:
    """The file's format; usage errors (status 2) for arguments that do not fit it."""
    chosen: str = args.format or ("csv" if args.file.suffix.lower() == ".csv" else "jsonl")
    if chosen == "csv":
        missing = [f"--{name}" for name in ("outdial", "columns") if getattr(args, name) is None]
        if missing:
            args.parser.error(f"a CSV import needs {' and '.join(missing)}")
    else:
        given = [name for name in _CSV_ONLY if getattr(args, name) is not None]
        if given:
            flag = f"--{given[0].replace('_', '-')}"
            args.parser.error(f"{flag} is for CSV files (--format csv)")
    return chosen


def _import_file(
    settings: Settings, args: argparse.Namespace, path: Path, label: str, *, csv: bool
) -> int:
    from cli.importer import ImportResult, UnusableFile, check_file
    from cli.importing import import_into
    from domain.errors import IdsTaken

    try:
        check_file(path)
        source = _import_source(args, path, csv=csv)
    except UnusableFile as error:
        return _fail(f"{label}: {error}", status=2)

    async def run() -> ImportResult:
        async with _storage(settings) as storage:
            return await import_into(
                storage,
                path,
                source,
                skip_bad=args.skip_bad,
                batch_size=args.batch_size,
                progress=sys.stderr,
            )

    try:
        result = _run_quietly(run())
    except UnusableFile as error:
        return _fail(f"{label}: {error}", status=2)
    except IdsTaken as taken:
        return _fail(
            f"{label}: another writer stored these ids while the import ran: {_cut(str(taken))}; "
            f"run the same import again, which checks them as it checks every {source.noun}"
        )
    except _expected_failures() as error:
        return _fail(str(error))
    skipped = (
        f", skipped {len(result.bad):,} bad {source.noun}(s)"
        if result.bad and args.skip_bad
        else ""
    )
    sys.stderr.write(f"imported {result.written:,} target(s) from {label}{skipped}\n")
    return 0 if result.ok or args.skip_bad else 1


def _import_source(args: argparse.Namespace, path: Path, *, csv: bool) -> Source:
    from cli.csv_rows import CsvRows
    from cli.sources import JsonLines

    if not csv:
        return JsonLines(default_region=args.default_region)
    return CsvRows.bind(
        path,
        args.columns,
        outdial_id=args.outdial,
        key_column=args.key_column,
        default_region=args.default_region,
    )


def _export(settings: Settings, args: argparse.Namespace) -> int:
    from cli.exporter import export_targets

    async def run() -> int:
        async with _storage(settings) as storage:
            if args.path is None:
                return await export_targets(storage.repository, sys.stdout.buffer, args.outdial)
            with args.path.open("wb") as out:
                return await export_targets(storage.repository, out, args.outdial)

    try:
        written = _run_quietly(run())
    except BrokenPipeError:
        raise  # `export | head`: the reader has what it wanted
    except _expected_failures() as error:
        return _fail(str(error))
    sys.stderr.write(f"exported {written:,} target(s)\n")
    return 0


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    from cli.demo import fill
    from domain.paging import CursorCodec
    from domain.service import TargetService

    outdial_id: str = args.outdial or str(uuid.uuid4())

    async def run() -> str:
        async with _storage(settings) as storage:
            codec = CursorCodec(settings.cursor_secret.encode())
            service = TargetService(storage.repository, cursors=codec)
            statuses = await fill(service, outdial_id, args.count)
        return ", ".join(f"{statuses[s]} {s.name}" for s in sorted(statuses, key=lambda s: s.name))

    try:
        summary = _run_quietly(run())
    except _expected_failures() as error:
        return _fail(str(error))
    sys.stdout.write(f"{outdial_id}\n")
    sys.stderr.write(f"created {args.count} example targets in outdial {outdial_id}: {summary}\n")
    return 0


def _storage(settings: Settings) -> AbstractAsyncContextManager[Storage]:
    from storage.backend import open_storage

    return open_storage(settings)


def _run_quietly[T](work: Coroutine[Any, Any, T]) -> T:
    """Run a one-off command: warnings only, so progress on stderr stays readable."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return asyncio.run(work)


def _expected_failures() -> tuple[type[Exception], ...]:
    """What a one-off command reports in one line: the database is down, a file is missing
    (a store that will not open is main's to report)."""
    from domain.errors import OutdialError
    from storage.mongo.driver import PyMongoError

    return (OutdialError, PyMongoError, OSError)


def _reader_went_away() -> int:
    """Quiet, as a command in a pipeline ends when the command reading it stops early; stdout
    points at nothing from here on, so the interpreter's last flush cannot fail loudly."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 128 + signal.SIGPIPE


def _fatal(error: Exception, *, status: int) -> int:
    sys.stderr.write(f"outdial-graphql: error: {error}\n")
    return status


def _cut(text: str) -> str:
    """A message that may echo an argument, cut to a readable length."""
    return text if len(text) <= _MESSAGE_LIMIT else f"{text[: _MESSAGE_LIMIT - 3]}..."


def _fail(message: str, *, status: int = 1) -> int:
    sys.stderr.write(f"outdial-graphql: {message}\n")
    return status


def _uuid(raw: str) -> str:
    from domain.errors import BadUserInput
    from domain.validation import uuid_arg

    try:
        return uuid_arg(raw, "--outdial")
    except BadUserInput as error:
        raise argparse.ArgumentTypeError(error.rule) from None


def _columns(raw: str) -> ColumnMap:
    from cli.csv_columns import BadColumns, parse_columns

    try:
        return parse_columns(raw)
    except BadColumns as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _region(raw: str) -> str | None:
    from domain.errors import BadUserInput
    from domain.phones import default_region

    try:
        return default_region(raw)
    except BadUserInput as error:
        raise argparse.ArgumentTypeError(error.rule) from None


def _whole(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        if not _DIGITS.fullmatch(raw):
            raise argparse.ArgumentTypeError(f"not a whole number: {raw!r}")
        value = int(raw) if len(raw.lstrip("0")) <= len(str(high)) else high + 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low:,} and {high:,}")
        return value

    return parse


if __name__ == "__main__":
    raise SystemExit(main())
