"""A persistent key -> JSON value store in one SQLite file, for answers that cost model calls to get again.

The evaluator's response cache and the generator's judge cache both keep their answers here: a key is a hash of
everything the answer depends on, so a rerun (after a crash, or for another arm of the same source) finds what
was already asked and asks only the rest. WAL mode lets several connections (threads or processes) share the file.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

#: Keys per SELECT; well below SQLite's limit on bound parameters.
_CHUNK = 500


class JsonCache:
    """Keys to JSON values in one table of one SQLite file (WAL mode); safe to share between threads."""

    def __init__(self, path: str | Path, table: str = "entries") -> None:
        if not table.isidentifier():
            raise ValueError(f"table: {table!r} is not an SQL identifier")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = str(path)
        self._table = table
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"CREATE TABLE IF NOT EXISTS {table} (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        self._db.commit()

    def __enter__(self) -> JsonCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """The cached values of those keys that are cached."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, Any] = {}
        with self._lock:
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start: start + _CHUNK]
                rows = self._db.execute(
                    f"SELECT key, value FROM {self._table} WHERE key IN ({','.join('?' * len(chunk))})", chunk)
                found.update((key, json.loads(value)) for key, value in rows)
        return found

    def put_many(self, items: Mapping[str, Any]) -> None:
        """Store (or replace) values, in one transaction."""
        with self._lock, self._db:
            self._db.executemany(f"INSERT OR REPLACE INTO {self._table} (key, value) VALUES (?, ?)",
                                 [(key, json.dumps(value)) for key, value in items.items()])

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute(f"SELECT COUNT(*) FROM {self._table}").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
