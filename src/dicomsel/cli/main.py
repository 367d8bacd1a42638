"""``dicomsel``: the console script. ``main(argv) -> int``; one module per subcommand."""

from __future__ import annotations

import argparse
import gc
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence
from enum import IntEnum
from typing import Any

import dicomsel.cli

__all__ = ["ExitCode", "build_parser", "main", "run"]

log = logging.getLogger("dicomsel")


class ExitCode(IntEnum):
    """Process exit codes."""

    OK = 0
    ERROR = 1
    USAGE = 2
    PARTIAL = 3
    INTERRUPTED = 130


class _VersionAction(argparse.Action):
    """``--version``: the version is read (importlib.metadata) only when asked for."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        kwargs.setdefault("help", "show program's version number and exit")
        super().__init__(option_strings, dest=argparse.SUPPRESS, nargs=0, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        import dicomsel

        print(f"{parser.prog} {dicomsel.__version__}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="dicomsel",
        description="DICOM image selections (KOS, SR, SEG, RTSTRUCT, images) to FHIR "
        "ImagingSelection and back.",
    )
    parser.add_argument("--version", action=_VersionAction)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in _subcommand_modules():
        module.add_subparser(sub)
    return parser


def _subcommand_modules() -> list[Any]:
    """Every module of ``dicomsel.cli`` with an ``add_subparser``, in name order.

    A new subcommand is a new module; nothing here changes.
    """
    found = []
    for info in pkgutil.iter_modules(dicomsel.cli.__path__):
        module = importlib.import_module(f"dicomsel.cli.{info.name}")
        if hasattr(module, "add_subparser"):
            found.append(module)
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (see :class:`ExitCode`)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code) if isinstance(e.code, int) else ExitCode.USAGE
    _start_up_done()
    from dicomsel.cli.logs import setup_logging

    verbosity = getattr(args, "verbose", 0)
    setup_logging(verbosity)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        log.error("interrupted")
        return ExitCode.INTERRUPTED
    except Exception as e:  # the last line of defence: one line, no traceback unless -v
        from dicomsel.io.files import OutputPathError

        if isinstance(e, OutputPathError):  # an output path found unwritable before any work
            log.error("%s", e)
            return ExitCode.USAGE
        log.error("internal error: %s: %s", type(e).__name__, e)
        if verbosity:
            raise
        return ExitCode.ERROR


#: Whether :func:`run` paused the cyclic garbage collector for the start-up.
_gc_paused_at_start = False


def _start_up_done() -> None:
    """The subcommand's modules are imported: resume what :func:`run` changed for its start-up.

    What was imported stays alive for the whole process, so it is frozen
    (:func:`gc.freeze`): no later collection traverses it again.
    """
    global _gc_paused_at_start
    from dicomsel.cli.startup import resume_imports

    resume_imports()
    if _gc_paused_at_start:
        _gc_paused_at_start = False
        gc.freeze()
        gc.enable()


def run() -> None:
    """Console-script entry point.

    The cyclic garbage collector is paused until the arguments are parsed: the
    imports of the start-up (pydicom's and numpy's among them) allocate several
    hundred thousand objects that all stay alive, and every automatic collection
    among them would find nothing to free (about a tenth of a small conversion's
    time). Reference counting frees what is dropped meanwhile. pydicom's
    download helpers (requests, tqdm, urllib.request) are imported lazily
    meanwhile, and numpy's OpenBLAS gets one thread (:mod:`dicomsel.cli.startup`).
    """
    global _gc_paused_at_start
    from dicomsel.cli.startup import defer_imports, one_blas_thread

    one_blas_thread()
    defer_imports()
    if gc.isenabled():
        gc.disable()
        _gc_paused_at_start = True
    sys.exit(main())
