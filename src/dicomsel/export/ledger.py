"""The export job's state: a SQLite ledger (``--state FILE``) owned by the driver.

It records, one transaction per batch, which items were seen (key and
fingerprint), how each ended, which resources went to the sink (by
``Type/id`` and a digest of their bytes), the per-file image selections read
(for series merged again when they gain instances in a later run), which
series were written, and how far the sink's output is committed (an NDJSON
file's length). Whatever is not in a committed transaction did not happen:
after kill -9 the same command again converts those items again, and the
sink's uncommitted tail is cut (:mod:`dicomsel.export.job`).

The file is the project's own (pickled model objects inside): keep it with the
output, never read one from an untrusted place.
"""

from __future__ import annotations

import json
import pickle
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from dicomsel.errors import DicomselError
from dicomsel.model import Selection

__all__ = ["Ledger", "LedgerError", "Recorded"]

#: bumped when the tables change; a ledger of another version is refused
SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS item (
    key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, sop_instance_uid TEXT,
    status TEXT NOT NULL, outcome TEXT NOT NULL, run INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS image (
    key TEXT PRIMARY KEY, series TEXT NOT NULL, selection BLOB NOT NULL, run INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS image_series ON image (series);
CREATE TABLE IF NOT EXISTS series (series TEXT PRIMARY KEY, written INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS written (ref TEXT PRIMARY KEY, digest TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS shared (id TEXT PRIMARY KEY, resource TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sink (name TEXT PRIMARY KEY, position INTEGER NOT NULL);
"""


class LedgerError(DicomselError):
    """The state file cannot be used (another schema, other settings, not a ledger)."""


@dataclass(frozen=True, slots=True)
class Recorded:
    """An item as an earlier run recorded it."""

    key: str
    fingerprint: str
    status: str
    outcome: dict[str, object]


class Ledger:
    """A SQLite (WAL) ledger at ``path``, created when missing.

    Parameters
    ----------
    path : str
        The state file.
    settings : dict
        What makes the output what it is (flavour, reader options, sink); a
        ledger made with other settings is refused, since its record would not
        describe this run's output.

    Raises
    ------
    LedgerError
        When the file is not a ledger of this version, or was made with other settings.
    """

    def __init__(self, path: str, settings: dict[str, object]):
        self.path = path
        try:
            self._db = sqlite3.connect(path, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as e:
            raise LedgerError(f"not a dicomsel state file: {e}", path=path) from e
        wanted = json.dumps(settings, sort_keys=True)
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        if not meta:
            with self.transaction():
                self._db.executemany(
                    "INSERT INTO meta VALUES (?, ?)",
                    [("schema", SCHEMA_VERSION), ("settings", wanted), ("runs", "0")],
                )
        elif meta.get("schema") != SCHEMA_VERSION:
            raise LedgerError(
                f"state file of schema {meta.get('schema')}, this dicomsel writes "
                f"{SCHEMA_VERSION}: use a new --state file",
                path=path,
            )
        elif meta.get("settings") != wanted:
            raise LedgerError(
                "state file of an export with other settings "
                f"({_difference(meta.get('settings', '{}'), wanted)}): its record does not "
                "describe this output; use a new --state file (and a new output)",
                path=path,
            )
        with self.transaction():
            runs = int(self._db.execute("SELECT value FROM meta WHERE key='runs'").fetchone()[0])
            self.run = runs + 1
            self._db.execute("UPDATE meta SET value=? WHERE key='runs'", (str(self.run),))

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction: committed whole at the end of the block, or not at all."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # ---- what earlier runs did

    def recorded(self) -> dict[str, Recorded]:
        """Every item recorded, by key."""
        rows = self._db.execute("SELECT key, fingerprint, status, outcome FROM item")
        return {k: Recorded(k, f, s, json.loads(o)) for k, f, s, o in rows}

    def position(self, sink: str) -> int | None:
        """How far the output of ``sink`` is committed (bytes), None when never written."""
        row = self._db.execute("SELECT position FROM sink WHERE name=?", (sink,)).fetchone()
        return None if row is None else int(row[0])

    def digests(self, refs: Iterable[str]) -> dict[str, str]:
        """The digest of each of ``refs`` the sink holds (those it does not are absent)."""
        out: dict[str, str] = {}
        for ref in refs:
            row = self._db.execute("SELECT digest FROM written WHERE ref=?", (ref,)).fetchone()
            if row is not None:
                out[ref] = str(row[0])
        return out

    def earlier_images(self, series: Sequence[str]) -> list[tuple[Selection, str]]:
        """Per-file image selections of earlier runs, of ``series`` or of a series never written.

        Parameters
        ----------
        series : sequence of str
            Series keys (JSON) this run read.

        Returns
        -------
        list of (Selection, str)
            Each with its item key, in key order.
        """
        self._db.execute("CREATE TEMP TABLE IF NOT EXISTS wanted (series TEXT PRIMARY KEY)")
        self._db.execute("DELETE FROM wanted")
        self._db.executemany("INSERT OR IGNORE INTO wanted VALUES (?)", [(s,) for s in series])
        rows = self._db.execute(
            "SELECT key, selection FROM image WHERE run < ? AND (series IN "
            "(SELECT series FROM wanted) OR series IN (SELECT series FROM series WHERE "
            "written = 0)) ORDER BY key",
            (self.run,),
        ).fetchall()
        return [(pickle.loads(blob), key) for key, blob in rows]

    def shared(self) -> dict[str, dict[str, object]]:
        """The shared resources (Endpoints) items referenced, by id."""
        rows = self._db.execute("SELECT id, resource FROM shared ORDER BY id")
        return {k: json.loads(v) for k, v in rows}

    # ---- what this run does (call inside transaction())

    def record_shared(self, resources: dict[str, dict[str, object]]) -> None:
        """Record shared resources (by id) that items reference, written at the run's end."""
        self._db.executemany(
            "INSERT OR IGNORE INTO shared VALUES (?, ?)",
            [(k, json.dumps(v, ensure_ascii=False)) for k, v in resources.items()],
        )

    def record_item(
        self,
        key: str,
        fingerprint: str,
        outcome: dict[str, object],
        images: Sequence[tuple[str, Selection]] = (),
    ) -> None:
        """Record how one item ended, and the image selections it gave (with their series)."""
        self._db.execute(
            "INSERT OR REPLACE INTO item VALUES (?, ?, ?, ?, ?, ?)",
            (
                key,
                fingerprint,
                outcome.get("sopInstanceUid"),
                str(outcome["status"]),
                json.dumps(outcome, sort_keys=True),
                self.run,
            ),
        )
        self._db.execute("DELETE FROM image WHERE key=?", (key,))
        for series, sel in images:
            self._db.execute(
                "INSERT INTO image VALUES (?, ?, ?, ?)",
                (key, series, pickle.dumps(sel, protocol=5), self.run),
            )
            self._db.execute("INSERT OR REPLACE INTO series VALUES (?, 0)", (series,))

    def record_written(self, digests: dict[str, str]) -> None:
        """Record resources the sink now holds, by ``Type/id``, with their digests."""
        self._db.executemany("INSERT OR REPLACE INTO written VALUES (?, ?)", digests.items())

    def record_position(self, sink: str, position: int) -> None:
        """Record how far the sink's output is committed."""
        self._db.execute("INSERT OR REPLACE INTO sink VALUES (?, ?)", (sink, position))

    def series_written(self) -> None:
        """Record that every series read so far was written whole."""
        self._db.execute("UPDATE series SET written = 1 WHERE written = 0")


def _difference(recorded: str, wanted: str) -> str:
    """The settings that differ, ``name: recorded -> wanted``."""
    a, b = json.loads(recorded), json.loads(wanted)
    names = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return "; ".join(f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in names) or "unknown"
