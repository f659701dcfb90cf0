"""Logging set-up: plain text for people, one JSON object a line for collectors."""

from __future__ import annotations

import logging

import orjson

from server.observability.requestlog import RequestIdFilter

# Attributes every LogRecord has; anything else was passed as `extra` and is logged as a field
# (uvicorn's color_message repeats the message with terminal colours).
_STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRIBUTES and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class WorkerFilter(logging.Filter):
    """Names the worker process (WORKERS above 1) on every record, as the field `worker`."""

    def __init__(self, worker: int) -> None:
        super().__init__()
        self.worker = worker

    def filter(self, record: logging.LogRecord) -> bool:
        record.worker = self.worker
        return True


def configure(level: str, fmt: str, *, worker: int | None = None) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    where = ""
    if worker is not None:
        handler.addFilter(WorkerFilter(worker))
        where = "worker %(worker)d "
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter(f"%(asctime)s %(levelname)s {where}%(name)s: %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
