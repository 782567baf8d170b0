"""The review stacks the service owns, in a table of the status store's SQLite file: a restart finds them again."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import fields
from pathlib import Path
from typing import Optional

from reconciler.status.database import open_database

from .record import ReviewStack

SCHEMA = """
CREATE TABLE IF NOT EXISTS review_stacks (
    name TEXT PRIMARY KEY,
    base TEXT NOT NULL,
    repository TEXT NOT NULL,
    number INTEGER NOT NULL,
    pulumi_stack TEXT NOT NULL,
    namespace TEXT NOT NULL,
    head TEXT NOT NULL,
    status TEXT NOT NULL,
    message TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    applied_commit TEXT,
    url TEXT,
    preview_body TEXT
);
"""
_COLUMNS = [field.name for field in fields(ReviewStack)]


class ReviewStackStore:
    def __init__(self, path: Path, read_only: bool = False) -> None:
        self._lock = threading.Lock()
        self._db = open_database(path, SCHEMA, read_only)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def save(self, record: ReviewStack) -> None:
        values = {column: getattr(record, column) for column in _COLUMNS}
        updates = ", ".join(f"{column} = excluded.{column}" for column in _COLUMNS if column != "name")
        with self._lock, self._db:
            self._db.execute(
                f"INSERT INTO review_stacks ({', '.join(_COLUMNS)}) VALUES ({', '.join(':' + c for c in _COLUMNS)}) "
                f"ON CONFLICT (name) DO UPDATE SET {updates}", values,
            )

    def get(self, name: str) -> Optional[ReviewStack]:
        rows = self._rows("WHERE name = ?", (name,))
        return rows[0] if rows else None

    def all(self) -> list[ReviewStack]:
        return self._rows("ORDER BY name", ())

    def delete(self, name: str) -> None:
        with self._lock, self._db:
            self._db.execute("DELETE FROM review_stacks WHERE name = ?", (name,))

    def _rows(self, where: str, params: tuple) -> list[ReviewStack]:
        with self._lock:
            try:
                rows = self._db.execute(f"SELECT * FROM review_stacks {where}", params).fetchall()
            except sqlite3.OperationalError as error:
                # A store the service never ran review stacks in (read by `status`): none.
                if "no such table" in str(error):
                    return []
                raise
        return [ReviewStack(**{column: row[column] for column in _COLUMNS}) for row in rows]
