"""Database URLs: ``sqlite:///path`` (the embedded default) or ``postgresql://…``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["DatabaseURL"]


@dataclass(frozen=True)
class DatabaseURL:
    raw: str

    @classmethod
    def parse(cls, url: str) -> DatabaseURL:
        scheme = urlsplit(url).scheme.split("+")[0]
        if scheme not in ("sqlite", "postgresql", "postgres"):
            raise ValueError(
                f"unsupported database URL scheme {scheme!r}: use sqlite:///PATH or postgresql://…"
            )
        return cls(url)

    @classmethod
    def sqlite_in(cls, data_dir: Path) -> DatabaseURL:
        return cls(f"sqlite:///{(data_dir / 'outbound.db').resolve()}")

    @property
    def is_postgres(self) -> bool:
        return urlsplit(self.raw).scheme.split("+")[0] in ("postgresql", "postgres")

    @property
    def sqlite_path(self) -> Path | None:
        if self.is_postgres:
            return None
        return Path(self.raw.split(":///", 1)[1])

    @property
    def libpq(self) -> str:
        """The URL psycopg understands (no SQLAlchemy driver suffix)."""
        parts = self.raw.split("://", 1)
        return "postgresql://" + parts[1]

    @property
    def sqlalchemy(self) -> str:
        if self.is_postgres:
            return "postgresql+psycopg://" + self.raw.split("://", 1)[1]
        return f"sqlite:///{self.sqlite_path}"

    def __str__(self) -> str:
        # Passwords in URLs are secrets too.
        parts = urlsplit(self.raw)
        if parts.password:
            return self.raw.replace(f":{parts.password}@", ":****@")
        return self.raw
