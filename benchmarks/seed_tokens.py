"""Seed a store with many tokens, fast: sealed exactly as the server seals them, written in
large transactions straight into the database (the API would take hours for a million).

    python benchmarks/seed_tokens.py --data-dir DIR --project P --app APP --count 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sqlite3
import time
from pathlib import Path

from outbound.crypto import load_keyring
from outbound.storage import DatabaseURL, upgrade
from outbound.storage.codec import new_id, token_aad

BATCH = 10_000


async def seed(
    url: DatabaseURL,
    data_dir: Path,
    master_key: str,
    project: str,
    app: str,
    count: int,
    start: int,
) -> None:
    await asyncio.to_thread(upgrade, url)
    keyring = load_keyring(master_key or None, data_dir)
    now = int(time.time())
    expiry = now + 30 * 24 * 3600
    columns = (
        "id, project_id, app_id, user_id, tenant_id, external_identifier, scopes, access_token,"
        " refresh_token, id_token, access_token_type, access_token_expiry, last_refresh_time,"
        " last_refresh_error, needs_reconnect, token_sub, granted_by, extra, created_at,"
        " updated_at, version"
    )
    names = [c.strip() for c in columns.split(",")]
    if url.is_postgres:
        import psycopg

        conn = psycopg.connect(url.libpq)
        sql = f"INSERT INTO tokens ({columns}) VALUES ({', '.join('%(' + n + ')s' for n in names)})"
    else:
        conn = sqlite3.connect(str(url.sqlite_path))  # type: ignore[assignment]
        sql = f"INSERT INTO tokens ({columns}) VALUES ({', '.join(':' + n for n in names)})"
    done = 0
    started = time.monotonic()
    try:
        for offset in range(start, start + count, BATCH):
            rows = []
            for i in range(offset, min(offset + BATCH, start + count)):
                user = f"user-{i:07d}"
                aad = token_aad(project, app, user, "", "", 1, "access_token")
                raad = token_aad(project, app, user, "", "", 1, "refresh_token")
                rows.append(
                    {
                        "id": new_id("tok"),
                        "project_id": project,
                        "app_id": app,
                        "user_id": user,
                        "tenant_id": "",
                        "external_identifier": "",
                        "scopes": '["read", "write"]',
                        "access_token": keyring.seal(secrets.token_urlsafe(32), aad),
                        "refresh_token": keyring.seal(secrets.token_urlsafe(32), raad),
                        "id_token": None,
                        "access_token_type": "Bearer",
                        "access_token_expiry": expiry,
                        "last_refresh_time": now,
                        "last_refresh_error": "",
                        "needs_reconnect": 0,
                        "token_sub": "",
                        "granted_by": "",
                        "extra": "{}",
                        "created_at": now,
                        "updated_at": now,
                        "version": 1,
                    }
                )
            with conn:  # one transaction per batch
                conn.cursor().executemany(sql, rows)
            done += len(rows)
            if done % 100_000 == 0:
                rate = done / (time.monotonic() - started)
                print(f"  seeded {done:,} tokens ({rate:,.0f}/s)", flush=True)
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--project", required=True)
    parser.add_argument("--app", required=True)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--start", type=int, default=0, help="first user number")
    args = parser.parse_args()
    url = (
        DatabaseURL.parse(args.database_url)
        if args.database_url
        else DatabaseURL.sqlite_in(args.data_dir)
    )
    asyncio.run(
        seed(
            url,
            args.data_dir,
            os.environ.get("OUTBOUND_MASTER_KEY", ""),
            args.project,
            args.app,
            args.count,
            args.start,
        )
    )


if __name__ == "__main__":
    main()
