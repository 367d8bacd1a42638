"""The command-line value parsers: an option's text -> the value the library takes.

Each parser checks one option's value and returns what the library's options
take, raising ValueError or :class:`~dicomsel.errors.InvalidInputError` (a
usage error, exit code 2) when the text is not valid. The subcommands call
them on their parsed arguments.
"""

from __future__ import annotations

import datetime as dt
import os

from dicomsel import terminology
from dicomsel.errors import InvalidInputError
from dicomsel.io.files import OutputPathError, check_output, check_output_folder, sweep_temp_files
from dicomsel.model import Code
from dicomsel.uid import check_uid

__all__ = [
    "check_outputs",
    "check_paths",
    "parse_content_datetime",
    "parse_title",
    "parse_uid_root",
]


def parse_title(text: str) -> Code:
    """``--title``: a CID 7010 document title, as a code value or VALUE^DCM[^MEANING].

    Parameters
    ----------
    text : str
        ``113000`` or ``113000^DCM``; the scheme defaults to DCM.

    Returns
    -------
    Code
        The CID 7010 code, with its meaning.

    Raises
    ------
    ValueError
        When the code is not a Key Object Selection Document Title.
    """
    parts = text.split("^")
    scheme = parts[1] if len(parts) > 1 else "DCM"
    title = terminology.key_object_title(Code(value=parts[0].strip(), scheme=scheme.strip()))
    if title is None:
        raise ValueError(
            f"{text!r} is not a Key Object Selection Document Title (CID 7010), "
            "e.g. 113000 (Of Interest) or 113004 (For Teaching)"
        )
    return title


def parse_uid_root(root: str) -> str:
    """``--uid-root``: a valid UID leaving room for at least 16 digits.

    Parameters
    ----------
    root : str
        The root of the new UIDs.

    Returns
    -------
    str
        ``root`` as given.

    Raises
    ------
    dicomsel.errors.InvalidInputError
        When ``root`` is not a valid UID, or is longer than 47 characters.
    """
    check_uid(root, "--uid-root")
    if len(root) > 64 - 17:
        raise InvalidInputError(
            f"{len(root)} characters leave fewer than 16 digits for the new UIDs "
            "(64 at most in all)",
            attribute="--uid-root",
        )
    return root


def parse_content_datetime(text: str) -> str:
    """``--content-datetime``: a FHIR instant, or ``now`` (the clock, local zone).

    Parameters
    ----------
    text : str
        ``2024-01-02T10:15:00+01:00`` or ``now``.

    Returns
    -------
    str
        The instant to use (``now`` resolved, to the second).

    Raises
    ------
    dicomsel.errors.InvalidInputError
        When ``text`` is neither ``now`` nor a valid instant.
    """
    if text == "now":
        now = dt.datetime.now().astimezone()
        return now.isoformat(timespec="seconds")
    from dicomsel.kos.values import parse_instant  # the KOS writer only for to-kos

    parse_instant(text, "--content-datetime")
    return text


def check_outputs(
    output: str | None, report: str | None = None, *, output_folder: bool = False
) -> None:
    """``-o`` and ``--report``: both writable (``-``: stdout), not both stdout.

    Called before any work, so that a bad path costs nothing.

    Parameters
    ----------
    output : str or None
        ``-o``.
    report : str or None
        ``--report``.
    output_folder : bool
        ``-o`` is an existing folder to write one file per resource into.

    Raises
    ------
    dicomsel.io.files.OutputPathError
        When a path cannot be written (see :func:`dicomsel.io.files.check_output`), or
        both go to standard output.
    """
    if output is not None:
        if output_folder:
            check_output_folder(output, "-o")
        else:
            check_output(output, "-o")
    if report is not None:
        check_output(report, "--report")
        if report == "-" and output in (None, "-"):
            raise OutputPathError(
                "the report and the output would both go to standard output: "
                "give -o a file, or --report a file",
                attribute="--report -",
            )
    # what killed runs left goes now, even when this run writes nothing
    for path in (output, report):
        if path is not None and path != "-":
            sweep_temp_files(os.path.dirname(os.path.abspath(path)))


def check_paths(
    inputs: list[str],
    output: str | None,
    report: str | None = None,
    *,
    output_folder: bool = False,
) -> None:
    """The inputs name stdin (``-``) once at most; ``-o`` and ``--report`` as :func:`check_outputs`.

    Raises
    ------
    dicomsel.errors.DicomselError
        A usage error, before any work.
    """
    if inputs.count("-") > 1:
        raise InvalidInputError("- (stdin) can be given once", attribute="INPUT")
    check_outputs(output, report, output_folder=output_folder)
