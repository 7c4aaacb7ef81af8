"""Regenerate the README's generated tables (error codes, settings) from the code.

.venv/bin/python scripts/readme_tables.py      # rewrites README.md in place
"""

from __future__ import annotations

import re
from pathlib import Path

from outbound.server.config import SETTINGS, env_name
from outbound.server.http.errors import ERROR_CODES

README = Path(__file__).resolve().parent.parent / "README.md"


def error_table() -> str:
    lines = ["| errorCode | HTTP | meaning |", "|---|---|---|"]
    lines += [f"| `{c.code}` | {c.status} | {c.description} |" for c in ERROR_CODES.values()]
    return "\n".join(lines) + "\n"


def settings_table() -> str:
    lines = ["| option | environment variable | default | what it does |", "|---|---|---|---|"]
    for name, field in SETTINGS.items():
        default = str(field.default) if field.default != "" else "—"
        flag = "--" + name.replace("_", "-")
        lines.append(f"| `{flag}` | `{env_name(name)}` | `{default}` | {field.metadata['help']} |")
    return "\n".join(lines) + "\n"


def replace(text: str, marker: str, table: str) -> str:
    pattern = re.compile(rf"(<!-- {marker}:.*?-->\n).*?(<!-- /{marker} -->)", re.S)
    return pattern.sub(lambda m: m.group(1) + table + m.group(2), text)


if __name__ == "__main__":
    text = README.read_text()
    text = replace(text, "error-codes", error_table())
    text = replace(text, "settings", settings_table())
    README.write_text(text)
