"""Settings read once from the environment, typed, with safe defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


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
