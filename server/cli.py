"""The `outdial-graphql` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from server.settings import Settings, SettingsError


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        sys.stderr.write(f"outdial-graphql: {error}\n")
        return 2
    result: int = args.command(settings, args)
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="outdial-graphql", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="run the GraphQL server")
    serve.set_defaults(command=_serve)
    export = commands.add_parser("export-schema", help="write the schema as SDL")
    export.add_argument("path", nargs="?", type=Path, help="file to write (default: stdout)")
    export.set_defaults(command=_export_schema)
    return parser


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from server import logs
    from server.app import create_app

    logs.configure(settings.log_level, settings.log_format)
    if settings.mongodb_url is None:
        from storage.embedded import DataDirInUse, ensure_data_dir_free

        try:
            ensure_data_dir_free(settings.data_dir)
        except DataDirInUse as error:
            sys.stderr.write(f"outdial-graphql: {error}\n")
            return 1
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=10,
    )
    return 0


def _export_schema(settings: Settings, args: argparse.Namespace) -> int:
    from schema.root import sdl

    text = sdl()
    if args.path is None:
        sys.stdout.write(text)
    else:
        args.path.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
