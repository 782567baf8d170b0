"""The units the service made, in a table of the status store's SQLite file: a restart finds them again."""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import fields
from pathlib import Path

from reconciler.status.database import add_missing_columns, open_database

from .record import UnitRecord

SCHEMA = """
CREATE TABLE IF NOT EXISTS units (
    name TEXT PRIMARY KEY,
    parent TEXT NOT NULL,
    unit TEXT NOT NULL,
    pulumi_stack TEXT NOT NULL,
    position INTEGER NOT NULL,
    files TEXT NOT NULL,
    depends_on TEXT NOT NULL,
    paths TEXT NOT NULL,
    planned_at TEXT NOT NULL,
    removed_at TEXT,
    claims TEXT NOT NULL DEFAULT '[]'
);
"""
_COLUMNS = [field.name for field in fields(UnitRecord)]
_LISTS = ("files", "depends_on", "paths", "claims")


class UnitStore:
    def __init__(self, path: Path, read_only: bool = False) -> None:
        self._lock = threading.Lock()
        self._db = open_database(path, SCHEMA, read_only)
        if not read_only:
            add_missing_columns(self._db, SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def save(self, record: UnitRecord) -> None:
        values = {column: getattr(record, column) for column in _COLUMNS}
        values.update({column: json.dumps(list(values[column])) for column in _LISTS})
        updates = ", ".join(f"{column} = excluded.{column}" for column in _COLUMNS if column != "name")
        with self._lock, self._db:
            self._db.execute(
                f"INSERT INTO units ({', '.join(_COLUMNS)}) VALUES ({', '.join(':' + c for c in _COLUMNS)}) "
                f"ON CONFLICT (name) DO UPDATE SET {updates}", values,
            )

    def delete(self, name: str) -> None:
        with self._lock, self._db:
            self._db.execute("DELETE FROM units WHERE name = ?", (name,))

    def of(self, parent: str) -> list[UnitRecord]:
        """The parent's units in plan order; removed ones last."""
        with self._lock:
            try:
                rows = self._db.execute(
                    "SELECT * FROM units WHERE parent = ? ORDER BY removed_at IS NOT NULL, position, name", (parent,),
                ).fetchall()
            except sqlite3.OperationalError as error:
                # A store the service never ran units in (read by `status`): none.
                if "no such table" in str(error):
                    return []
                raise
        return [_record(row) for row in rows]


def _record(row: sqlite3.Row) -> UnitRecord:
    values = {column: row[column] for column in _COLUMNS}
    values.update({column: tuple(json.loads(values[column])) for column in _LISTS})
    return UnitRecord(**values)
