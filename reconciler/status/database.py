"""The state directory's SQLite file, as every store of the reconciler opens it."""

from __future__ import annotations

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
