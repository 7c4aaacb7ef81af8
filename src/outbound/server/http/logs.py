"""Log output: plain text (the default) or JSON, one object a line (``--log-format json``).

In JSON mode every line carries the request it was logged in — request id, project, key id —
from the request's audit caller, and each request ends with one access line (route template,
status, duration). What is logged is what the code logs: messages that never quote a secret,
and no exception text (only its type), since a driver error may quote a row.
"""

from __future__ import annotations

import logging
import sys
import time

import orjson

from ...audit import caller

__all__ = ["JsonFormatter", "access", "configure"]

access_logger = logging.getLogger("outbound.access")

_EXTRA = ("route", "method", "status", "durationMs")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        who = caller()
        if who.request_id:
            entry["requestId"] = who.request_id
        if who.project_id:
            entry["projectId"] = who.project_id
        if who.actor.startswith("key:"):
            entry["keyId"] = who.actor[4:]
        elif who.actor != "system":
            entry["actor"] = who.actor
        for name in _EXTRA:
            value = record.__dict__.get(name)
            if value is not None:
                entry[name] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = record.exc_info[0].__name__
        return orjson.dumps(entry).decode()


def configure(level: str, fmt: str) -> None:
    if fmt == "json":
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        root = logging.getLogger()
        root.handlers[:] = [handler]
        root.setLevel(level.upper())
    else:
        logging.basicConfig(
            level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )


def access(route: str, method: str, status: int, seconds: float) -> None:
    access_logger.info(
        "%s %s %d",
        method,
        route,
        status,
        extra={
            "route": route,
            "method": method,
            "status": status,
            "durationMs": round(seconds * 1000, 3),
        },
    )
