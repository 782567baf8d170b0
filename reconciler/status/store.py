"""The status store: every run, and each stack's position, in one SQLite file under the state directory.

A run row is written when the run starts and completed when it ends, so a row
left without an end after a crash tells the next start which stacks were
interrupted mid-update. A failure that repeats the previous one exactly (same
commit, class and message) bumps that row's `attempts` instead of adding rows.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import fields
from pathlib import Path
from typing import Any, Iterator, Optional

from reconciler.status.database import add_missing_columns, open_database
from reconciler.status.model import ChangeCounts

from .model import Condition, Result, RunOutcome, StackState

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    stack TEXT NOT NULL,
    commit_sha TEXT,
    trigger TEXT NOT NULL,
    kind TEXT NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    result TEXT,
    changes_create INTEGER NOT NULL DEFAULT 0,
    changes_update INTEGER NOT NULL DEFAULT 0,
    changes_replace INTEGER NOT NULL DEFAULT 0,
    changes_delete INTEGER NOT NULL DEFAULT 0,
    changes_same INTEGER NOT NULL DEFAULT 0,
    reason TEXT,
    error_message TEXT,
    resources TEXT NOT NULL DEFAULT '[]',
    attempts INTEGER NOT NULL DEFAULT 1,
    config_digest TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_stack ON runs (stack, id);
CREATE TABLE IF NOT EXISTS stacks (
    name TEXT PRIMARY KEY,
    observed_commit TEXT,
    observed_at REAL,
    desired_digest TEXT,
    last_attempted_commit TEXT,
    last_attempted_digest TEXT,
    last_attempted_at REAL,
    last_applied_commit TEXT,
    last_applied_digest TEXT,
    last_applied_at REAL,
    settled_commit TEXT,
    settled_digest TEXT,
    settled_result TEXT,
    last_result TEXT,
    reason TEXT,
    message TEXT,
    last_run_id INTEGER,
    last_duration_s REAL,
    failures INTEGER NOT NULL DEFAULT 0,
    retry_at REAL,
    next_run_at REAL,
    last_drift_check_at REAL,
    drifted INTEGER NOT NULL DEFAULT 0,
    needs_recovery INTEGER NOT NULL DEFAULT 0,
    reconciling INTEGER NOT NULL DEFAULT 0,
    conditions TEXT NOT NULL DEFAULT '[]',
    encryption_salt TEXT,
    outputs_digest TEXT
);
"""
_STATE_COLUMNS = [f.name for f in fields(StackState)]


class StatusStore:
    def __init__(self, path: Path, read_only: bool = False) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = open_database(path, SCHEMA, read_only)
        if not read_only:
            add_missing_columns(self._db, SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _write(self, sql: str, params: tuple | dict = ()) -> sqlite3.Cursor:
        with self._lock, self._db:
            return self._db.execute(sql, params)

    def _read(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # Stack positions

    def stack_state(self, name: str) -> StackState:
        rows = self._read("SELECT * FROM stacks WHERE name = ?", (name,))
        if not rows:
            return StackState(name=name)
        values = {column: rows[0][column] for column in _STATE_COLUMNS}
        values["needs_recovery"] = bool(values["needs_recovery"])
        values["reconciling"] = bool(values["reconciling"])
        values["conditions"] = [Condition(**entry) for entry in json.loads(values["conditions"] or "[]")]
        return StackState(**values)

    def save_state(self, state: StackState) -> None:
        with self._lock, self._db:
            self._save_state(state)

    def _save_state(self, state: StackState) -> None:
        values = {column: getattr(state, column) for column in _STATE_COLUMNS}
        values["conditions"] = json.dumps([vars(condition) for condition in state.conditions])
        columns = ", ".join(_STATE_COLUMNS)
        placeholders = ", ".join(f":{column}" for column in _STATE_COLUMNS)
        updates = ", ".join(f"{column} = excluded.{column}" for column in _STATE_COLUMNS if column != "name")
        self._db.execute(
            f"INSERT INTO stacks ({columns}) VALUES ({placeholders}) ON CONFLICT (name) DO UPDATE SET {updates}", values
        )

    def update_state(self, name: str, **changes: Any) -> None:
        """Changes a few fields of a stack's state (the recorder's bookkeeping: salt, next run)."""
        unknown = set(changes) - set(_STATE_COLUMNS)
        if unknown:
            raise KeyError(f"not stack state columns: {sorted(unknown)}")
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO stacks (name) VALUES (?) ON CONFLICT (name) DO NOTHING", (name,)
            )
            sets = ", ".join(f"{column} = :{column}" for column in changes)
            self._db.execute(f"UPDATE stacks SET {sets} WHERE name = :name", {**changes, "name": name})

    # Runs

    def start_run(self, stack: str, commit: Optional[str], trigger: str, kind: str, started_at: Optional[float] = None) -> int:
        cursor = self._write(
            "INSERT INTO runs (stack, commit_sha, trigger, kind, started_at) VALUES (?, ?, ?, ?, ?)",
            (stack, commit, trigger, kind, started_at or time.time()),
        )
        assert cursor.lastrowid is not None, "an INSERT always sets lastrowid"
        return cursor.lastrowid

    def finish_run(self, run_id: int, outcome: RunOutcome, state: Optional[StackState] = None) -> int:
        """Completes the run row, and saves the stack's state in the same transaction; returns the id of the row
        that now holds the run (an earlier one when it repeats)."""
        with self._lock, self._db:
            row_id = self._finish_run(run_id, outcome)
            if state is not None:
                state.last_run_id = row_id
                self._save_state(state)
            return row_id

    def _finish_run(self, run_id: int, outcome: RunOutcome) -> int:
        previous = self._db.execute(
            "SELECT id, commit_sha, result, reason, error_message FROM runs "
            "WHERE stack = ? AND id < ? AND finished_at IS NOT NULL ORDER BY id DESC LIMIT 1",
            (outcome.stack, run_id),
        ).fetchone()
        repeats = (
            outcome.result is Result.FAILED
            and previous is not None
            and (previous["commit_sha"], previous["result"], previous["reason"], previous["error_message"])
            == (outcome.commit, outcome.result.value, outcome.reason, outcome.error_message)
        )
        if repeats:
            self._db.execute("DELETE FROM runs WHERE id = ?", (run_id,))
            self._db.execute(
                "UPDATE runs SET attempts = attempts + 1, finished_at = ? WHERE id = ?",
                (outcome.finished_at, previous["id"]),
            )
            return int(previous["id"])
        changes = outcome.changes
        self._db.execute(
            "UPDATE runs SET commit_sha = ?, finished_at = ?, result = ?, changes_create = ?, changes_update = ?, "
            "changes_replace = ?, changes_delete = ?, changes_same = ?, reason = ?, error_message = ?, "
            "resources = ?, config_digest = ? WHERE id = ?",
            (
                outcome.commit, outcome.finished_at, outcome.result.value, changes.create, changes.update,
                changes.replace, changes.delete, changes.same, outcome.reason, outcome.error_message,
                json.dumps(outcome.resources), outcome.config_digest, run_id,
            ),
        )
        return run_id

    def unfinished_runs(self, stack: str) -> list[sqlite3.Row]:
        """Runs of the stack that started and never ended: the service died during them."""
        return self._read("SELECT * FROM runs WHERE stack = ? AND finished_at IS NULL ORDER BY id", (stack,))

    def runs(self, stack: Optional[str] = None, limit: int = 50) -> list[dict[str, Any]]:
        where, params = ("WHERE stack = ?", (stack, limit)) if stack else ("", (limit,))
        rows = self._read(f"SELECT * FROM runs {where} ORDER BY id DESC LIMIT ?", params)
        return [run_row_dict(row) for row in rows]

    def iter_all_text(self) -> Iterator[str]:
        """Every text value stored, for checks that no secret was ever written."""
        for table in ("runs", "stacks"):
            for row in self._read(f"SELECT * FROM {table}"):
                for value in tuple(row):
                    if isinstance(value, str):
                        yield value


def run_row_dict(row: sqlite3.Row) -> dict[str, Any]:
    changes = ChangeCounts(
        create=row["changes_create"], update=row["changes_update"], replace=row["changes_replace"],
        delete=row["changes_delete"], same=row["changes_same"],
    )
    finished = row["finished_at"]
    return {
        "id": row["id"],
        "stack": row["stack"],
        "commit": row["commit_sha"],
        "trigger": row["trigger"],
        "kind": row["kind"],
        "started_at": row["started_at"],
        "finished_at": finished,
        "duration_s": round(finished - row["started_at"], 3) if finished else None,
        "result": row["result"],
        "changes": changes.as_dict(),
        "reason": row["reason"],
        "error": row["error_message"],
        "resources": json.loads(row["resources"] or "[]"),
        "attempts": row["attempts"],
    }
