"""The reviewer's decisions: an append-only log of actions in SQLite (WAL), one transaction per action, so a
closed browser or a killed server loses nothing. Undo marks the latest action undone; the groups are the
result's, replayed through the actions still standing (``reid.review.state``)."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from reid.errors import ReidError

DB_NAME = "review.sqlite"
SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE actions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    at TEXT NOT NULL,
    undone INTEGER NOT NULL DEFAULT 0
);
"""


def _text(value) -> bool:
    return isinstance(value, str)


def _texts(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _faces(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)


#: each kind of action's payload as the review page records it: field -> check
PAYLOADS = {
    "name": {"group": _text, "name": _text},
    "merge": {"into": _text, "groups": _texts},
    "move": {"faces": _faces, "to": _text},
    "split": {"group": _text, "parts": lambda v: isinstance(v, list) and all(map(_faces, v)), "into": _texts},
    "not_character": {"group": _text, "value": lambda v: isinstance(v, bool)},
}


@dataclass(frozen=True)
class Action:
    id: int
    kind: str
    payload: dict
    at: str
    undone: bool = False


class DecisionStore:
    def __init__(self, path: str | Path, fingerprint: str):
        self.path = Path(path)
        self._advice = f"move {self.path} aside to start the review over (the result itself is untouched)"
        try:
            self._open(fingerprint)
        except sqlite3.DatabaseError as exc:
            raise ReidError(f"{self.path}: not a readable review database ({exc}); {self._advice}") from None
        except sqlite3.Error as exc:  # OperationalError: a read-only folder, a full disk
            raise ReidError(f"{self.path}: cannot open the review database ({exc}); pass --db with a path you can "
                            "write") from None

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # a connection per call: the server answers requests on several threads
        with closing(sqlite3.connect(self.path, timeout=10)) as conn:
            with conn:  # one transaction: committed whole or rolled back
                yield conn

    def _open(self, fingerprint: str) -> None:
        with self._connect() as conn:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not tables:
                conn.executescript(_SCHEMA)
                conn.executemany("INSERT INTO meta VALUES (?, ?)", [
                    ("schema_version", str(SCHEMA_VERSION)), ("result", fingerprint),
                    ("created", _now())])
            elif not {"meta", "actions"} <= tables:
                raise ReidError(f"{self.path}: a SQLite file, but not a reid review database; {self._advice}")
            meta = dict(conn.execute("SELECT key, value FROM meta"))
            problem = conn.execute("PRAGMA quick_check").fetchone()[0]
        if problem != "ok":
            raise ReidError(f"{self.path}: damaged ({problem}); {self._advice}")
        try:
            version = int(meta.get("schema_version", 0))
        except ValueError:
            raise ReidError(f"{self.path}: damaged (schema version {meta.get('schema_version')!r} is not a number); "
                            f"{self._advice}") from None
        if version > SCHEMA_VERSION:
            raise ReidError(f"{self.path}: written by a newer reid (schema {version}, this one reads "
                            f"{SCHEMA_VERSION}); upgrade reid")
        if meta.get("result") != fingerprint:
            raise ReidError(f"{self.path}: its decisions were made on another version of this result (the result "
                            f"JSON changed since); {self._advice}")
        with closing(sqlite3.connect(self.path)) as conn:  # outside a transaction: WAL is set once, kept in the file
            conn.execute("PRAGMA journal_mode=WAL")

    def record(self, kind: str, payload: dict) -> int:
        with self._connect() as conn:
            return conn.execute("INSERT INTO actions (kind, payload, at) VALUES (?, ?, ?)",
                                (kind, json.dumps(payload, ensure_ascii=False), _now())).lastrowid

    def undo(self) -> Action | None:
        """Mark the latest standing action undone and return it; None when there is nothing to undo."""
        with self._connect() as conn:
            row = conn.execute("SELECT id, kind, payload, at FROM actions WHERE undone = 0 "
                               "ORDER BY id DESC LIMIT 1").fetchone()
            if row is None:
                return None
            conn.execute("UPDATE actions SET undone = 1 WHERE id = ?", (row[0],))
        return self._action(*row, True)

    def actions(self, *, include_undone: bool = False) -> list[Action]:
        where = "" if include_undone else "WHERE undone = 0"
        with self._connect() as conn:
            rows = conn.execute(f"SELECT id, kind, payload, at, undone FROM actions {where} ORDER BY id").fetchall()
        return [self._action(*row) for row in rows]

    def _action(self, id: int, kind, payload, at, undone=False) -> Action:
        """A stored row as an Action, checked field by field: a database edited by hand or damaged is named in one
        line, not a traceback in the middle of a replay."""
        def damaged(what: str) -> ReidError:
            return ReidError(f"{self.path}: damaged: action {id} {what}; {self._advice}")

        fields = PAYLOADS.get(kind) if isinstance(kind, str) else None
        if fields is None:
            raise damaged(f"is of an unknown kind {kind!r}")
        try:
            data = json.loads(payload) if isinstance(payload, (str, bytes)) else None
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise damaged(f"({kind}) does not hold a JSON object")
        for name, valid in fields.items():
            if not valid(data.get(name)):
                raise damaged(f"({kind}) has a wrong or missing {name!r}: {str(data.get(name))[:40]!r}")
        return Action(id, kind, data, str(at), bool(undone))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
