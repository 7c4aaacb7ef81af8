"""Log lines that text from outside cannot forge or fill with secrets.

:func:`loggable` escapes the characters that would split or hide a log line;
:func:`quiet_http_logs` keeps httpx's and httpcore's loggers from writing provider query
strings and headers.
"""

from __future__ import annotations

import logging
import re

__all__ = ["loggable", "quiet_http_logs"]

# What must never reach a log line raw: C0/C1 controls, DEL, line and paragraph separators,
# and the bidi controls that reorder what a reader sees.
_UNLOGGABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def loggable(text: str) -> str:
    """``text`` with every control, separator and bidi character escaped (``\\x0a``), so
    text that came from outside cannot forge or hide log lines."""
    return _UNLOGGABLE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_QUERY = re.compile(r"\?[^\s\"'>]*")


class _ProviderURLFilter(logging.Filter):
    """httpx logs each request's full URL at INFO, and httpcore's DEBUG traces carry request
    and response headers (Authorization, Set-Cookie). Keep httpx's line without the query
    string, and none of httpcore's below WARNING."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("httpcore"):
            return record.levelno >= logging.WARNING
        record.msg = loggable(_QUERY.sub("?…", record.getMessage()))
        record.args = ()
        return True


_FILTER = _ProviderURLFilter()
_HTTP_LOGGERS = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)


def quiet_http_logs() -> None:
    """Install the filter on httpx's and httpcore's loggers (idempotent)."""
    for name in _HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
