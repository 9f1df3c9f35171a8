"""Create the database named by DATABASE_URL if it does not exist yet."""

from __future__ import annotations

import os
import sys

import environ
import psycopg
from psycopg import sql

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/waha_gateway"


def main() -> int:
    environ.Env.read_env(os.path.join(os.path.dirname(__file__), "..", ".env"), overwrite=False)
    config = environ.Env.db_url_config(os.environ.get("DATABASE_URL", DEFAULT_URL))
    name = config["NAME"]
    admin = psycopg.connect(
        host=config.get("HOST") or "127.0.0.1", port=config.get("PORT") or 5432,
        user=config.get("USER") or "postgres", password=config.get("PASSWORD") or None,
        dbname="postgres", autocommit=True,
    )
    with admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
