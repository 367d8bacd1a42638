"""Streaming sinks: resources written as the driver gets them, memory flat in the batch size.

- :class:`NdjsonSink`: one resource a line, written to the output as it comes.
- :class:`BundleSink`: a JSON collection or transaction Bundle. Its id (derived
  from every entry's name) comes first in the document, so the entries are
  spooled to a temporary file as they come and copied behind the header at the
  end; a collection Bundle also rewrites ``Type/id`` references to entries
  into their ``urn:uuid`` fullUrls, so it keeps the *names* of its entries
  (about 100 bytes each), never the resources.
- :class:`DirectorySink`: one ``<ResourceType>-<id>.json`` file per resource.

Each writes byte for byte what :func:`dicomsel.fhir.serialise` writes for the
same resources. A regular output file is written through a temporary file in
its folder (``.dicomsel-*``) renamed over it at the end, so a reader never sees
half a document; a device, FIFO or other non-regular file is written straight
through, never replaced; ``-`` is standard output.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO

from dicomsel.fhir.ids import ID_NAMESPACE
from dicomsel.io.files import is_regular, new_temp_file, replace_atomically

__all__ = ["AppendingNdjsonSink", "BundleSink", "DirectorySink", "NdjsonSink"]

#: FHIR's id datatype: what a file name made of an id may hold
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def _dumps(obj: Any) -> str:
    # the settings of dicomsel.fhir.serialise: compact, UTF-8, no NaN
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _new_temp(target: str, suffix: str = "", mode: str = "w") -> tuple[IO[str], str]:
    fd, tmp = new_temp_file(target, suffix)
    return os.fdopen(fd, mode, encoding="utf-8", newline="\n"), tmp


@dataclass(slots=True)
class _Output:
    """An output document being written: standard output, a file through a rename, or a device."""

    path: str
    _stream: IO[str] | None = None
    _tmp: str | None = None

    def stream(self) -> IO[str]:
        if self._stream is None:
            if self.path == "-":
                self._stream = sys.stdout
            elif is_regular(self.path):
                self._stream, self._tmp = _new_temp(self.path)
            else:  # a device, FIFO, socket...: written through, never replaced
                self._stream = open(self.path, "w", encoding="utf-8", newline="\n")  # noqa: SIM115
        return self._stream

    def close(self, commit: bool) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        if stream is sys.stdout:
            stream.flush()
            return
        try:
            stream.close()
        finally:
            tmp, self._tmp = self._tmp, None
            if tmp is not None:
                if commit:
                    os.replace(tmp, self.path)
                else:
                    os.unlink(tmp)


@dataclass(slots=True)
class NdjsonSink:
    """NDJSON, each resource's line written when the driver hands it over.

    Parameters
    ----------
    path : str
        Output file (written through a temporary file and a rename; a non-regular
        file directly), or ``-`` for standard output.
    """

    path: str
    _out: _Output = field(init=False)

    def __post_init__(self) -> None:
        self._out = _Output(self.path)

    def write(self, resources: Sequence[dict[str, Any]]) -> None:
        """Write resources, one a line."""
        if resources:
            stream = self._out.stream()
            for res in resources:
                stream.write(_dumps(res) + "\n")

    def close(self, commit: bool = True) -> None:
        """Rename the file into place (or remove it, without ``commit``)."""
        if commit:
            self._out.stream()  # no resource: an empty document, still written
        self._out.close(commit)


@dataclass(slots=True)
class BundleSink:
    """A JSON Bundle (``bundle``: collection, or ``transaction``), entries spooled as they come.

    Parameters
    ----------
    path : str
        Output file, or ``-``.
    fmt : str
        ``bundle`` or ``transaction``.
    """

    path: str
    fmt: str = "bundle"
    _out: _Output = field(init=False)
    _spool: IO[str] | None = field(default=None, init=False)
    _spool_path: str | None = field(default=None, init=False)
    _hash: Any = field(init=False)
    _count: int = field(default=0, init=False)
    #: the entries' ``Type/id`` (collection only: references to them are rewritten)
    _names: set[str] = field(default_factory=set, init=False)

    def __post_init__(self) -> None:
        if self.fmt not in ("bundle", "transaction"):
            raise ValueError(f"BundleSink writes bundle or transaction, not {self.fmt!r}")
        self._out = _Output(self.path)
        # its id is uuid5(ID_NAMESPACE, "Bundle|<fmt>|" + "|".join(names)), hashed as they come
        self._hash = hashlib.sha1(ID_NAMESPACE.bytes, usedforsecurity=False)
        self._hash.update(f"Bundle|{self.fmt}|".encode())

    def write(self, resources: Sequence[dict[str, Any]]) -> None:
        """Spool resources (transaction: as finished entries)."""
        if not resources:
            return
        if self._spool is None:
            # beside a regular output file; in the temporary folder for stdout or a device
            beside = self.path != "-" and is_regular(self.path)
            target = self.path if beside else os.path.join(tempfile.gettempdir(), "bundle")
            self._spool, self._spool_path = _new_temp(target, ".spool", "w+")
        for res in resources:
            name = f"{res['resourceType']}/{res['id']}"
            self._hash.update((f"|{name}" if self._count else name).encode())
            self._count += 1
            if self.fmt == "bundle":
                self._names.add(name)
                self._spool.write(_dumps(res) + "\n")
            else:
                entry = {
                    "fullUrl": f"urn:uuid:{res['id']}",
                    "resource": res,
                    "request": {"method": "PUT", "url": name},
                }
                self._spool.write(_dumps(entry) + "\n")

    def close(self, commit: bool = True) -> None:
        """Write the Bundle: header, then the spooled entries (or nothing, without ``commit``)."""
        spool, spool_path = self._spool, self._spool_path
        self._spool = self._spool_path = None
        try:
            if commit:
                self._write_document(spool)
            self._out.close(commit)
        finally:
            if spool is not None:
                spool.close()
            if spool_path is not None:
                os.unlink(spool_path)

    def _write_document(self, spool: IO[str] | None) -> None:
        bundle_id = uuid.UUID(bytes=self._hash.digest()[:16], version=5)
        btype = "collection" if self.fmt == "bundle" else "transaction"
        head = _dumps({"resourceType": "Bundle", "id": str(bundle_id), "type": btype})
        out = self._out.stream()
        out.write(head[:-1] + ',"entry":[\n')
        if spool is not None:
            spool.flush()
            spool.seek(0)
            for n, line in enumerate(spool):
                if n:
                    out.write(",\n")
                if self.fmt == "bundle":
                    res = json.loads(line)
                    entry = {"fullUrl": f"urn:uuid:{res['id']}", "resource": self._linked(res)}
                    out.write(_dumps(entry))
                else:
                    out.write(line[:-1])
        out.write("\n]}\n")

    def _linked(self, resource: dict[str, Any]) -> dict[str, Any]:
        """``Type/id`` references to entries as their fullUrls (top level: all dicomsel writes)."""

        def fix(v: Any) -> Any:
            ref = v.get("reference") if isinstance(v, dict) else None
            if isinstance(ref, str) and ref in self._names:
                return {**v, "reference": f"urn:uuid:{ref.partition('/')[2]}"}
            return v

        return {
            k: [fix(x) for x in v] if isinstance(v, list) else fix(v) for k, v in resource.items()
        }


@dataclass(slots=True)
class DirectorySink:
    """One file per resource, ``<folder>/<ResourceType>-<id>.json``, each written whole.

    Each file is written through a temporary file and a rename as its resource
    comes, so a run stopped half-way leaves only whole files; a file of an
    earlier run with the same name is replaced (the same resource: ids are
    derived from the DICOM UIDs).

    Parameters
    ----------
    folder : str
        An existing folder.

    Raises
    ------
    NotADirectoryError
        When ``folder`` is not an existing folder (before any work).
    """

    folder: str
    #: how many files were written
    written: int = 0

    def __post_init__(self) -> None:
        if not os.path.isdir(self.folder):
            raise NotADirectoryError(f"{self.folder}: not an existing folder")

    def write(self, resources: Sequence[dict[str, Any]]) -> None:
        """Write each resource to its own file."""
        for res in resources:
            kind, rid = str(res["resourceType"]), str(res["id"])
            if not (kind.isalpha() and kind.isascii() and _FHIR_ID.fullmatch(rid)):
                raise ValueError(f"{kind}/{rid}: not a FHIR resource type and id")
            path = os.path.join(self.folder, f"{kind}-{rid}.json")
            data = (_dumps(res) + "\n").encode("utf-8")

            def fill(f: BinaryIO, data: bytes = data) -> None:
                f.write(data)

            replace_atomically(path, fill, ".json")
            self.written += 1

    def close(self, commit: bool = True) -> None:
        """Nothing left to write: each file went into place as it came."""


@dataclass(slots=True)
class AppendingNdjsonSink:
    """NDJSON appended to a file a ledger keeps account of (a resumable export).

    The file is cut back to ``start`` bytes when opened: what lies beyond was
    written by a run killed before its ledger recorded it, and is written again.
    :meth:`flush` makes what was written durable and :meth:`position` tells how
    far, for the ledger to record.

    Parameters
    ----------
    path : str
        A regular file (created when missing).
    start : int
        The committed length the ledger recorded (0 for a new export).

    Raises
    ------
    ValueError
        When the file is shorter than ``start`` (changed since it was recorded),
        or not a regular file.
    """

    path: str
    start: int = 0
    _fd: int = field(default=-1, init=False)
    _position: int = field(default=0, init=False)
    _buffer: list[bytes] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        if os.path.exists(self.path) and not is_regular(self.path):
            raise ValueError(f"{self.path}: an export with --state appends to a regular file")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        size = os.fstat(fd).st_size
        if size < self.start:
            os.close(fd)
            raise ValueError(
                f"{self.path}: {size} bytes, shorter than the {self.start} the state file "
                "recorded: it was changed since; use a new output and --state file"
            )
        if size > self.start:
            os.ftruncate(fd, self.start)
        os.lseek(fd, self.start, os.SEEK_SET)
        self._fd, self._position = fd, self.start

    def write(self, resources: Sequence[dict[str, Any]]) -> None:
        """Write resources, one a line (buffered until :meth:`flush`)."""
        self._buffer.extend((_dumps(r) + "\n").encode("utf-8") for r in resources)

    def flush(self) -> list[object]:
        """Write what is buffered and sync it to disk; nothing is ever refused."""
        if self._buffer:
            data = b"".join(self._buffer)
            self._buffer.clear()
            view = memoryview(data)
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
            self._position += len(data)
        os.fsync(self._fd)
        return []

    def position(self) -> int:
        """How many bytes the file holds after the last :meth:`flush`."""
        return self._position

    def close(self, commit: bool = True) -> None:
        """Flush (with ``commit``) and close; the ledger decides what counts."""
        if self._fd < 0:
            return
        try:
            if commit:
                self.flush()
        finally:
            os.close(self._fd)
            self._fd = -1
