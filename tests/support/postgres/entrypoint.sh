#!/bin/sh
# First start on an empty volume: a cluster whose superuser is POSTGRES_USER with the password
# in POSTGRES_PASSWORD_FILE (network logins need it), and the database POSTGRES_DB.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    initdb --username="$POSTGRES_USER" --pwfile="$POSTGRES_PASSWORD_FILE" \
        --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    pg_ctl --wait --silent -o "-c listen_addresses=''" start
    createdb --username="$POSTGRES_USER" "$POSTGRES_DB"
    pg_ctl --wait --silent --mode=fast stop
fi
exec postgres -c listen_addresses='*'
