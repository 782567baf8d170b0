"""The state directory's SQLite file, as every store of the reconciler opens it."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path


def open_database(path: Path, schema: str, read_only: bool) -> sqlite3.Connection:
    """Read-only (`python -m reconciler status`), or created with `schema` in WAL mode, which lets that command
    read while the service writes. Rows read as sqlite3.Row; one connection shared by the store's threads."""
    if read_only:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False, timeout=10)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, check_same_thread=False, timeout=10)
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(schema)
    db.row_factory = sqlite3.Row
    return db


def add_missing_columns(db: sqlite3.Connection, schema: str) -> None:
    """A table an older version wrote gets the columns added since (empty, or their default)."""
    for table, create in re.findall(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*?)\n\);", schema, re.S):
        present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        for line in create.strip().splitlines():
            column = line.strip().rstrip(",")
            if column.split()[0] not in present:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column}")
    db.commit()
