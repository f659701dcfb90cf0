"""Settings read once from the environment, typed, with safe defaults."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from strawberry.http.websocket_origin import normalize_allowed_origins

from server.auth import Credential, parse_credentials, token_entries
from server.trusted import ManifestError, TrustedDocument, load_manifest

NO_STORE = "no-store"


class SettingsError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Settings:
    mongodb_url: str | None = None
    mongodb_db: str = "outdial"
    host: str = "127.0.0.1"
    port: int = 8000
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
    max_subscriptions_per_connection: int = 20
    connection_init_timeout_ms: int = 10_000
    # Subscriptions: events a subscriber may fall behind before it is ended; keep-alive pings.
    subscription_queue_size: int = 1000
    keep_alive_interval_s: int = 15
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
            host=get("HOST") or defaults.host,
            port=_integer(get("PORT"), "PORT", defaults.port, 0, 65535),
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
