"""Files and folders: the file source, the file sink, and files written whole or not at all."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import shutil
import socket
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from dicomsel.dicom import ReadOptions, ReadResult, read_file
from dicomsel.dicom.dicomjson import read_json_file
from dicomsel.errors import DicomselError
from dicomsel.fhir import serialise
from dicomsel.io.base import Item

__all__ = [
    "STDIN",
    "TEMP_PREFIX",
    "FileSink",
    "FileSource",
    "OutputPathError",
    "check_output",
    "check_output_folder",
    "is_regular",
    "new_temp_file",
    "replace_atomically",
    "spool_stdin",
    "sweep_temp_files",
    "walk",
    "write_text",
]

log = logging.getLogger("dicomsel")

#: the item key of a DICOM object read from standard input (``convert -``)
STDIN = "<stdin>"

#: how temporary files start: ``.dicomsel-<pid>-<host>-<random>``
TEMP_PREFIX = ".dicomsel-"


class OutputPathError(DicomselError):
    """An output path (``-o``, ``--report``) cannot be written; found before any work."""


def walk(paths: Iterable[str | os.PathLike[str]]) -> Iterator[tuple[str, bool | None]]:
    """Every file named by ``paths``, folders searched recursively in sorted order.

    Yields ``(path, explicit)``: ``explicit`` is True for a file named as it
    stands, False for a file found in a folder, and None for a path that
    names nothing (``(folder, None)`` too for a folder that holds no files),
    so that each caller decides whether that is an error.

    Symbolic links to folders are followed, each real folder searched once per
    path given (a link back to a folder already searched is not followed again,
    and says so at info level): a link loop never repeats or hangs a walk.
    """
    for item in paths:
        p = os.fspath(item)
        if os.path.isdir(p):
            found = False
            for name in _walk_folder(p):
                found = True
                yield name, False
            if not found:
                yield p, None
        elif os.path.exists(p):
            yield p, True
        else:
            yield p, None


def _walk_folder(top: str) -> Iterator[str]:
    seen = {os.path.realpath(top)}
    for root, dirs, files in os.walk(top, followlinks=True):
        keep = []
        for d in sorted(dirs):
            sub = os.path.join(root, d)
            real = os.path.realpath(sub)
            if real in seen:
                log.info("%s: links to %s, already searched: not searched again", sub, real)
                continue
            seen.add(real)
            keep.append(d)
        dirs[:] = keep
        for name in sorted(files):
            yield os.path.join(root, name)


@dataclass(frozen=True, slots=True)
class FileSource:
    """DICOM files, and folders searched recursively, in the order given (folders sorted).

    A file whose name ends in ``.json`` is read as a DICOM JSON dataset
    (:mod:`dicomsel.dicom.dicomjson`); one that holds other JSON is not DICOM.

    Parameters
    ----------
    paths : sequence of str
        Files and folders; ``-`` is the object read from standard input (item
        :data:`STDIN`), which ``stdin`` must then name.
    stdin : str or None
        The file standard input was copied to (:func:`spool_stdin`).
    """

    paths: Sequence[str]
    stdin: str | None = None

    def items(self) -> Iterator[Item]:
        """One item per file; a path naming nothing (or an empty folder) is a missing item."""
        for path, explicit in walk(self.paths):
            if path == "-":
                missing = None if self.stdin is not None else "standard input was not read"
                yield Item(STDIN, True, missing)
            elif explicit is None:
                why = "folder holds no files" if os.path.isdir(path) else "no such file or folder"
                yield Item(path, missing=why)
            else:
                yield Item(path, explicit)

    def read(self, item: Item, options: ReadOptions) -> ReadResult:
        """Read the file ``item`` names (header only); a ``.json`` file as DICOM JSON."""
        if item.key.lower().endswith(".json"):
            return read_json_file(item.key, options)
        if item.key != STDIN or self.stdin is None:
            return read_file(item.key, options)
        try:
            return read_file(self.stdin, options)
        except DicomselError as e:
            # name standard input, not the file it was copied to
            if e.path == self.stdin:
                e.path = None
                e.with_path(STDIN)
            raise


@contextlib.contextmanager
def spool_stdin() -> Iterator[str]:
    """Copy standard input (binary) to a temporary file; yield its path, removed at the end.

    A DICOM object is read by seeking, which a pipe cannot do; the copy also
    lets worker processes read it.
    """
    fd, tmp = tempfile.mkstemp(prefix="dicomsel-stdin-", suffix=".dcm")
    try:
        with os.fdopen(fd, "wb") as f:
            shutil.copyfileobj(sys.stdin.buffer, f)
        yield tmp
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


# ---- checking output paths before any work


def check_output(path: str, what: str = "-o") -> None:
    """Check that ``path`` can be written as a file (``-``: standard output, always can).

    Parameters
    ----------
    path : str
        The output file.
    what : str
        The option naming it, for the message.

    Raises
    ------
    OutputPathError
        When ``path`` is a folder, its folder does not exist or is not a folder,
        or it (or its folder, for the temporary file) is not writable.
    """
    if path == "-":
        return
    if os.path.isdir(path):
        raise OutputPathError(f"{path} is a folder: give a file name", attribute=what)
    if path.endswith(("/", os.sep)):
        raise OutputPathError(f"{path} names a folder: give a file name", attribute=what)
    target = _resolved(path)
    if os.path.lexists(target) and not _is_regular(target):
        if not os.access(target, os.W_OK):
            raise OutputPathError(f"{path} is not writable", attribute=what)
        return  # a device or FIFO: written through, its folder is not touched
    folder = os.path.dirname(os.path.abspath(target))
    _check_folder(folder, what, path)
    if os.path.exists(target) and not os.access(target, os.W_OK):
        raise OutputPathError(f"{path} is not writable", attribute=what)


def check_output_folder(path: str, what: str = "-o") -> None:
    """Check that ``path`` is an existing, writable folder (never created).

    Raises
    ------
    OutputPathError
        When it does not exist, is not a folder or is not writable.
    """
    _check_folder(os.path.abspath(path), what, path)


def _check_folder(folder: str, what: str, path: str) -> None:
    if not os.path.exists(folder):
        raise OutputPathError(f"{path}: folder {folder} does not exist", attribute=what)
    if not os.path.isdir(folder):
        raise OutputPathError(f"{path}: {folder} is not a folder", attribute=what)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputPathError(f"{path}: folder {folder} is not writable", attribute=what)


def _resolved(path: str) -> str:
    """``path`` with symbolic links resolved (a link is written through, not replaced)."""
    return os.path.realpath(path) if os.path.islink(path) else path


def is_regular(path: str) -> bool:
    """Whether ``path`` is a regular file, or nothing yet (it will be one); False for devices,
    FIFOs and the like, which are written through and never replaced."""
    return _is_regular(path)


def _is_regular(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except FileNotFoundError:
        return True  # not there yet: it will be a regular file


# ---- writing whole files: a temporary file beside the target, then a rename


def _host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode("utf-8")).hexdigest()[:8]


def _umask() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # no other way to read it: set and restore at once
    os.umask(mask)
    return mask


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


_SWEPT: set[str] = set()


def sweep_temp_files(folder: str) -> list[str]:
    """Remove the temporary files that killed dicomsel processes left in ``folder``.

    Only files named ``.dicomsel-<pid>-<host>-...`` whose host is this one and
    whose process is gone are removed; those of a live process, or of another
    host sharing the folder, are left alone.

    Returns
    -------
    list of str
        The paths removed.
    """
    removed: list[str] = []
    host = _host_tag()
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in sorted(names):
        if not name.startswith(TEMP_PREFIX):
            continue
        parts = name[len(TEMP_PREFIX) :].split("-", 2)
        if len(parts) < 3 or not parts[0].isdigit() or parts[1] != host:
            continue
        pid = int(parts[0])
        if pid == os.getpid() or _alive(pid):
            continue
        path = os.path.join(folder, name)
        try:
            if stat.S_ISREG(os.lstat(path).st_mode):
                os.unlink(path)
                removed.append(path)
        except OSError:
            continue
    for path in removed:
        log.info("removed %s, left by a process that ended before renaming it", path)
    return removed


def new_temp_file(target: str, suffix: str = "") -> tuple[int, str]:
    """Open the temporary file that will be renamed to ``target``: ``(fd, path)``.

    It lies in ``target``'s folder, named ``.dicomsel-<pid>-<host>-<random>`` so
    that :func:`sweep_temp_files` can remove it if this process is killed (the
    first temporary file in a folder sweeps it), with the mode ``target`` will
    have: its own when it exists, else the caller's umask's (0644 under 022).
    """
    folder = os.path.dirname(os.path.abspath(target))
    if folder not in _SWEPT:
        _SWEPT.add(folder)
        sweep_temp_files(folder)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    tmp = os.path.join(
        folder, f"{TEMP_PREFIX}{os.getpid()}-{_host_tag()}-{secrets.token_hex(4)}{suffix}"
    )
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    os.fchmod(fd, mode)
    return fd, tmp


def replace_atomically(path: str, write: Callable[[BinaryIO], object], suffix: str = "") -> None:
    """Write ``path`` whole or not at all: a temporary file in its folder, then a rename.

    ``write`` fills the open file. A new file gets the mode the caller's umask
    gives (0644 under 022), a replaced file keeps its mode. A path that is not a
    regular file (a device such as ``/dev/null``, a FIFO) is written through,
    never renamed over; a symbolic link is followed (its target is replaced). On
    any failure the temporary file is removed and ``path`` is left as it was.
    The first write into a folder removes what killed runs left there
    (:func:`sweep_temp_files`).
    """
    target = _resolved(path)
    if not _is_regular(target):
        with open(target, "wb") as f:
            write(f)
        return
    fd, tmp = new_temp_file(target, suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(path: str, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` (``-``: standard output), never half-written."""
    if path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    replace_atomically(path, lambda f: f.write(text.encode("utf-8")))


@dataclass(slots=True)
class FileSink:
    """A run's resources as one FHIR document: a Bundle (JSON or XML) or NDJSON.

    The document is written when the run ends (a Bundle needs all its entries to
    resolve references), to ``path`` through a temporary file and a rename, or to
    standard output for ``-``.

    Parameters
    ----------
    path : str
        Output file, or ``-``.
    fmt : str
        ``bundle``, ``transaction`` or ``ndjson`` (:data:`dicomsel.fhir.FORMATS`).
    flavour : str
        The FHIR flavour the resources are in (for XML element order).
    xml : bool
        Write FHIR XML (Bundles only).
    """

    path: str
    fmt: str = "bundle"
    flavour: str = "r5"
    xml: bool = False
    resources: list[dict[str, Any]] = field(default_factory=list)

    def write(self, resources: Sequence[dict[str, Any]]) -> None:
        """Take resources, in output order."""
        self.resources.extend(resources)

    def close(self, commit: bool = True) -> None:
        """Write the document (or nothing, without ``commit``)."""
        resources, self.resources = self.resources, []
        if not commit:
            return
        if self.xml:
            from dicomsel.fhir.xml import serialise_xml  # XML and Turtle only

            text = serialise_xml(resources, self.fmt, self.flavour)
        else:
            text = serialise(resources, self.fmt)
        write_text(self.path, text)
