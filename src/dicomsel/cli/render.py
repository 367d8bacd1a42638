"""``dicomsel render``: each 2D region drawn on the frame it references, as PNG."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

__all__ = ["add_subparser", "run"]

log = logging.getLogger("dicomsel")


def add_subparser(sub: Any) -> None:
    """Add ``render`` to the subcommands."""
    p = sub.add_parser(
        "render",
        help="draw each 2D region (SR SCOORD, imageRegion2D) on its image frame as PNG",
        description="For each 2D region of the input (DICOM SR, KOS, or FHIR dicomsel "
        "wrote) write a PNG of the referenced frame, found by SOP Instance UID in --image "
        "DIR, with the region drawn at its pixel coordinates and a caption (concept, value). "
        "The PNG paths go to stdout. Needs dicomsel[render] (Pillow). Exit codes: 0 written, "
        "1 error, 2 usage.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="DICOM or FHIR file")
    p.add_argument("--image", required=True, metavar="DIR", help="folder of referenced images")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="existing folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``render`` with parsed arguments."""
    import os

    from dicomsel.cli.main import ExitCode
    from dicomsel.errors import DicomselError
    from dicomsel.render import render

    if not os.path.isdir(args.image) or not os.path.isdir(args.output):
        log.error("--image and -o must be existing folders")
        return ExitCode.USAGE
    try:
        written = render(args.inputs, args.image, args.output)
    except DicomselError as e:
        log.error("%s", e)
        return ExitCode.ERROR
    for path in written:
        sys.stdout.write(path + "\n")
    return ExitCode.OK
