"""The console script's start-up: what :func:`dicomsel.cli.main.run` does before its imports.

``import pydicom`` imports requests (and through it urllib3, charset_normalizer,
idna), tqdm and the standard library's urllib.request (with http.client, ssl and
email), for one purpose: downloading pydicom's test files
(``pydicom/data/download.py``). No conversion uses them, and they are about a
third of pydicom's import time. While the console script starts, these
modules are imported with the standard library's
:class:`importlib.util.LazyLoader`: the module object exists at once, its code
runs on its first attribute access. A command that does use requests (the
DICOMweb source and the FHIR server sink, through dicomweb-client) gets the
whole package the moment it touches it. The finder is removed once the
arguments are parsed, and a library caller of :func:`dicomsel.cli.main.main`
is never affected.

pydicom also imports numpy, and numpy's OpenBLAS starts a thread per core that
spins for a while (about 50 ms of CPU on two cores, more than the rest of numpy's
import). dicomsel does no linear algebra, so the console script asks for one BLAS
thread (:func:`one_blas_thread`) unless the user set ``OPENBLAS_NUM_THREADS``: the
process stays single-threaded, and the workers it forks copy no thread pool.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

__all__ = ["DEFERRED", "defer_imports", "one_blas_thread", "resume_imports"]

#: the modules whose code runs on first use while the console script starts (each is
#: imported once by pydicom: a second ``import`` statement would load it, on Python 3.11)
DEFERRED = ("requests", "tqdm", "urllib.request")


class _Deferring:
    """A meta path finder: the specs of :attr:`names` get a lazy loader."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = frozenset(names)

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name not in self.names:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return None  # not installed, or not an ordinary package: imported as usual
        spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


_finder: _Deferring | None = None


def defer_imports(names: Sequence[str] = DEFERRED) -> None:
    """Import ``names`` lazily from now on, until :func:`resume_imports` (once per process)."""
    global _finder
    if _finder is None and not any(n in sys.modules for n in names):
        _finder = _Deferring(names)
        sys.meta_path.insert(0, _finder)


def resume_imports() -> None:
    """Remove the finder: later imports are as usual (what it made lazy loads on use)."""
    global _finder
    if _finder is not None:
        sys.meta_path[:] = [f for f in sys.meta_path if f is not _finder]
        _finder = None


def one_blas_thread() -> None:
    """Ask OpenBLAS (numpy's) for one thread, unless set already; only before numpy is imported."""
    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
