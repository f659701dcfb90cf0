"""Settings read once from the environment, typed, with safe defaults."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from strawberry.http.websocket_origin import normalize_allowed_origins

from server.guards.auth import Credential, parse_credentials, token_entries
from server.http.trusted import ManifestError, TrustedDocument, load_manifest
from storage.backend import MONGO_DRIVERS, MongoDriver

NO_STORE = "no-store"
MAX_WORKERS = 64


class SettingsError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Settings:
    mongodb_url: str | None = None
    mongodb_db: str = "outdial"
    mongodb_driver: MongoDriver = "motor"
    host: str = "127.0.0.1"
    port: int = 8000
    # Processes serving on the one port (server.serving.workers): about one per core.
    workers: int = 1
    data_dir: Path = Path("data")
    db_timeout_ms: int = 5000
    cursor_secret: str = "outdial-graphql-cursor"
    log_level: str = "INFO"
    log_format: str = "text"
    shutdown_timeout_s: int = 10
    # Hardening: see README "Configuration".
    auth_tokens: tuple[Credential, ...] = ()
    require_auth: bool = False
    introspection: bool = True
    cors_origins: tuple[str, ...] = ()
    max_query_depth: int = 15
    max_aliases: int = 100
    max_tokens: int = 2000
    max_body_bytes: int = 2 * 1024 * 1024
    max_result_items: int = 10_000
    max_creates_per_request: int = 1000
    max_subscriptions_per_connection: int = 20
    connection_init_timeout_ms: int = 10_000
    request_headers_timeout_ms: int = 10_000
    request_body_timeout_ms: int = 30_000
    # Subscriptions: events a subscriber may fall behind before it is ended; keep-alive pings.
    subscription_queue_size: int = 1000
    keep_alive_interval_s: int = 15
    # Leases: how often each instance looks for lapsed claims (a lapse happens within this).
    lease_sweep_interval_ms: int = 500
    # Which proxies may set X-Forwarded-For/-Proto (uvicorn's forwarded_allow_ips).
    forwarded_allow_ips: str = "127.0.0.1,::1"
    # Persisted operations: see README "Persisted operations".
    persisted_queries_cache_size: int = 1000
    persisted_query_cache_control: str = NO_STORE
    trusted_documents: tuple[TrustedDocument, ...] = ()
    trusted_documents_only: bool = False

    def __post_init__(self) -> None:
        if self.require_auth and not self.auth_tokens:
            raise SettingsError(
                "REQUIRE_AUTH=1 but no tokens are configured: set AUTH_TOKENS or AUTH_TOKENS_FILE"
            )
        if self.trusted_documents_only and not self.trusted_documents:
            raise SettingsError(
                "TRUSTED_DOCUMENTS_ONLY=1 needs a manifest in TRUSTED_DOCUMENTS_FILE"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        def get(name: str) -> str | None:
            value = environ.get(name, "").strip()
            return value or None

        defaults = cls()
        return cls(
            mongodb_url=get("MONGODB_URL"),
            mongodb_db=get("MONGODB_DB") or defaults.mongodb_db,
            mongodb_driver=_mongodb_driver(get("MONGODB_DRIVER")),
            host=get("HOST") or defaults.host,
            port=_integer(get("PORT"), "PORT", defaults.port, 0, 65535),
            workers=_integer(get("WORKERS"), "WORKERS", defaults.workers, 1, MAX_WORKERS),
            data_dir=Path(get("DATA_DIR") or defaults.data_dir),
            db_timeout_ms=_integer(
                get("DB_TIMEOUT_MS"), "DB_TIMEOUT_MS", defaults.db_timeout_ms, 100, 600_000
            ),
            cursor_secret=get("CURSOR_SECRET") or defaults.cursor_secret,
            log_level=(get("LOG_LEVEL") or defaults.log_level).upper(),
            log_format=_choice(get("LOG_FORMAT"), "LOG_FORMAT", ("text", "json")),
            shutdown_timeout_s=_integer(
                get("SHUTDOWN_TIMEOUT_S"),
                "SHUTDOWN_TIMEOUT_S",
                defaults.shutdown_timeout_s,
                0,
                3600,
            ),
            auth_tokens=_credentials(get("AUTH_TOKENS"), get("AUTH_TOKENS_FILE")),
            require_auth=_flag(get("REQUIRE_AUTH"), "REQUIRE_AUTH", defaults.require_auth),
            introspection=_flag(get("INTROSPECTION"), "INTROSPECTION", defaults.introspection),
            cors_origins=_origins(get("CORS_ORIGINS")),
            max_query_depth=_integer(
                get("MAX_QUERY_DEPTH"), "MAX_QUERY_DEPTH", defaults.max_query_depth, 1, 100
            ),
            max_aliases=_integer(
                get("MAX_ALIASES"), "MAX_ALIASES", defaults.max_aliases, 0, 10_000
            ),
            max_tokens=_integer(
                get("MAX_TOKENS"), "MAX_TOKENS", defaults.max_tokens, 10, 1_000_000
            ),
            max_body_bytes=_integer(
                get("MAX_BODY_BYTES"), "MAX_BODY_BYTES", defaults.max_body_bytes, 1024, 1 << 30
            ),
            max_result_items=_integer(
                get("MAX_RESULT_ITEMS"),
                "MAX_RESULT_ITEMS",
                defaults.max_result_items,
                1,
                10_000_000,
            ),
            max_creates_per_request=_integer(
                get("MAX_CREATES_PER_REQUEST"),
                "MAX_CREATES_PER_REQUEST",
                defaults.max_creates_per_request,
                1,
                1_000_000,
            ),
            max_subscriptions_per_connection=_integer(
                get("MAX_SUBSCRIPTIONS_PER_CONNECTION"),
                "MAX_SUBSCRIPTIONS_PER_CONNECTION",
                defaults.max_subscriptions_per_connection,
                1,
                10_000,
            ),
            connection_init_timeout_ms=_integer(
                get("CONNECTION_INIT_TIMEOUT_MS"),
                "CONNECTION_INIT_TIMEOUT_MS",
                defaults.connection_init_timeout_ms,
                10,
                600_000,
            ),
            request_headers_timeout_ms=_integer(
                get("REQUEST_HEADERS_TIMEOUT_MS"),
                "REQUEST_HEADERS_TIMEOUT_MS",
                defaults.request_headers_timeout_ms,
                100,
                600_000,
            ),
            request_body_timeout_ms=_integer(
                get("REQUEST_BODY_TIMEOUT_MS"),
                "REQUEST_BODY_TIMEOUT_MS",
                defaults.request_body_timeout_ms,
                100,
                3_600_000,
            ),
            subscription_queue_size=_integer(
                get("SUBSCRIPTION_QUEUE_SIZE"),
                "SUBSCRIPTION_QUEUE_SIZE",
                defaults.subscription_queue_size,
                1,
                1_000_000,
            ),
            keep_alive_interval_s=_integer(
                get("KEEP_ALIVE_INTERVAL_S"),
                "KEEP_ALIVE_INTERVAL_S",
                defaults.keep_alive_interval_s,
                1,
                3600,
            ),
            lease_sweep_interval_ms=_integer(
                get("LEASE_SWEEP_INTERVAL_MS"),
                "LEASE_SWEEP_INTERVAL_MS",
                defaults.lease_sweep_interval_ms,
                50,
                1500,
            ),
            forwarded_allow_ips=get("FORWARDED_ALLOW_IPS") or defaults.forwarded_allow_ips,
            persisted_queries_cache_size=_integer(
                get("PERSISTED_QUERIES_CACHE_SIZE"),
                "PERSISTED_QUERIES_CACHE_SIZE",
                defaults.persisted_queries_cache_size,
                0,
                1_000_000,
            ),
            persisted_query_cache_control=_cache_control(get("PERSISTED_QUERY_CACHE_CONTROL")),
            trusted_documents=_manifest(get("TRUSTED_DOCUMENTS_FILE")),
            trusted_documents_only=_flag(
                get("TRUSTED_DOCUMENTS_ONLY"),
                "TRUSTED_DOCUMENTS_ONLY",
                defaults.trusted_documents_only,
            ),
        )


@dataclass(frozen=True, slots=True)
class Variable:
    """One environment variable the server reads: `serve --help` and the README list these."""

    name: str
    meaning: str
    shown_default: str | None = None  # None: the default of the field named like the variable

    def default(self) -> str:
        if self.shown_default is not None:
            return self.shown_default
        value = getattr(Settings(), self.name.lower())
        if isinstance(value, bool):
            return "1" if value else "0"
        return "unset" if value in (None, ()) else str(value)


ENVIRONMENT = (
    Variable("MONGODB_URL", "a MongoDB to use; unset keeps targets in the embedded SQLite store"),
    Variable("MONGODB_DB", "database name"),
    Variable(
        "MONGODB_DRIVER", "motor, or pymongo for PyMongo's AsyncMongoClient (Motor's successor)"
    ),
    Variable("HOST", "address to listen on"),
    Variable("PORT", "port to listen on"),
    Variable("WORKERS", f"processes serving on that port, 1 to {MAX_WORKERS}; about one per core"),
    Variable("DATA_DIR", "where the embedded store keeps its SQLite file"),
    Variable("DB_TIMEOUT_MS", "how long a request waits for the database"),
    Variable("CURSOR_SECRET", "key signing paging cursors; the same on every replica", "built in"),
    Variable("LOG_LEVEL", "DEBUG, INFO, WARNING or ERROR"),
    Variable("LOG_FORMAT", "text, or json for one JSON object a line"),
    Variable("SHUTDOWN_TIMEOUT_S", "on SIGTERM, how long requests in flight may take"),
    Variable("AUTH_TOKENS", "bearer tokens as scope:sha256hex[:label], comma-separated"),
    Variable("AUTH_TOKENS_FILE", "a file of tokens, one 'scope sha256hex [label]' a line", "unset"),
    Variable("REQUIRE_AUTH", "1: refuse to start without a token"),
    Variable("INTROSPECTION", "0 turns off introspection and suggestions"),
    Variable("CORS_ORIGINS", "origins whose pages may call the API, comma-separated; * for any"),
    Variable("MAX_QUERY_DEPTH", "field nesting of one operation"),
    Variable("MAX_ALIASES", "aliases in one operation"),
    Variable("MAX_TOKENS", "tokens in one document"),
    Variable("MAX_BODY_BYTES", "request body and websocket message size"),
    Variable("MAX_RESULT_ITEMS", "list items one request could return"),
    Variable("MAX_CREATES_PER_REQUEST", "targets the mutations of one request could create"),
    Variable(
        "MAX_SUBSCRIPTIONS_PER_CONNECTION", "operations at once on one websocket or SSE stream"
    ),
    Variable("CONNECTION_INIT_TIMEOUT_MS", "time a websocket has to send connection_init"),
    Variable("REQUEST_HEADERS_TIMEOUT_MS", "time a connection has to send its request headers"),
    Variable("REQUEST_BODY_TIMEOUT_MS", "time a request has to send its body"),
    Variable("SUBSCRIPTION_QUEUE_SIZE", "events a subscriber may fall behind before it is ended"),
    Variable("LEASE_SWEEP_INTERVAL_MS", "how often lapsed claims are moved back to IDLE"),
    Variable("KEEP_ALIVE_INTERVAL_S", "websocket and SSE keep-alive interval"),
    Variable("FORWARDED_ALLOW_IPS", "proxies trusted to set X-Forwarded-For and -Proto"),
    Variable("PERSISTED_QUERIES_CACHE_SIZE", "persisted operations kept parsed, by hash"),
    Variable("PERSISTED_QUERY_CACHE_CONTROL", "Cache-Control of persisted queries over GET"),
    Variable("TRUSTED_DOCUMENTS_FILE", "a manifest of trusted operations", "unset"),
    Variable("TRUSTED_DOCUMENTS_ONLY", "1: run only the operations of the manifest"),
)


def environment_help() -> str:
    """The environment the server reads, with defaults, for `serve --help`."""
    lines = [f"  {v.name} (default: {v.default()})\n      {v.meaning}" for v in ENVIRONMENT]
    return "environment (read once at start-up):\n" + "\n".join(lines)


def _integer(raw: str | None, name: str, default: int, low: int, high: int) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _choice(raw: str | None, name: str, choices: tuple[str, ...]) -> str:
    if raw is None:
        return choices[0]
    if raw.lower() not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw.lower()


def _mongodb_driver(raw: str | None) -> MongoDriver:
    chosen = _choice(raw, "MONGODB_DRIVER", MONGO_DRIVERS)
    return next(driver for driver in MONGO_DRIVERS if driver == chosen)


def _flag(raw: str | None, name: str, default: bool) -> bool:
    if raw is None:
        return default
    if raw.lower() not in _FLAGS:
        raise SettingsError(f"{name} must be 1 or 0 (or true/false, yes/no, on/off), got {raw!r}")
    return _FLAGS[raw.lower()]


_FLAGS = {"1": True, "true": True, "yes": True, "on": True}
_FLAGS |= {"0": False, "false": False, "no": False, "off": False}


def _credentials(variable: str | None, file_name: str | None) -> tuple[Credential, ...]:
    file_text = None
    if file_name is not None:
        try:
            file_text = Path(file_name).read_text()
        except OSError as error:
            raise SettingsError(f"AUTH_TOKENS_FILE {file_name}: {error.strerror}") from None
    try:
        return parse_credentials(token_entries(variable, file_text, file_name or ""))
    except ValueError as error:
        raise SettingsError(str(error)) from None


def _origins(raw: str | None) -> tuple[str, ...]:
    origins = tuple(origin.strip() for origin in (raw or "").split(",") if origin.strip())
    try:
        normalize_allowed_origins(origins)
    except ValueError as error:
        raise SettingsError(f"CORS_ORIGINS: {error}") from None
    return origins


def _cache_control(raw: str | None) -> str:
    if raw is None:
        return NO_STORE
    if not _HEADER_VALUE.fullmatch(raw):
        raise SettingsError(
            f"PERSISTED_QUERY_CACHE_CONTROL must be a Cache-Control value "
            f"(e.g. 'public, max-age=60'), got {raw!r}"
        )
    return raw


_HEADER_VALUE = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~=,;\" /()-]{1,256}")


def _manifest(file_name: str | None) -> tuple[TrustedDocument, ...]:
    if file_name is None:
        return ()
    try:
        return load_manifest(Path(file_name))
    except ManifestError as error:
        raise SettingsError(f"TRUSTED_DOCUMENTS_FILE {error}") from None
