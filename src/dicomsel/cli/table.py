"""``dicomsel table``: SR measurements (or the FHIR dicomsel wrote of them) as a table."""

from __future__ import annotations

import argparse
import logging
from typing import Any

__all__ = ["add_subparser", "run"]

log = logging.getLogger("dicomsel")


def add_subparser(sub: Any) -> None:
    """Add ``table`` to the subcommands."""
    p = sub.add_parser(
        "table",
        help="one row per SR measurement, with its group and image references (CSV, Parquet)",
        description="Tabulate the measurements (NUM) of DICOM SR documents (TID 1500 above "
        "all), or of FHIR dicomsel wrote from them (an R5 Bundle or NDJSON): one row per "
        "measurement with the document, the measurement group, the concept, value and unit, "
        "and the selected image(s). CSV on stdout by default; -o FILE.parquet writes Parquet "
        "(needs dicomsel[parquet]). Exit codes: 0 written, 1 error, 2 usage.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="DICOM SR file or FHIR JSON file")
    p.add_argument(
        "-o",
        "--output",
        default="-",
        metavar="FILE",
        help="FILE.csv, FILE.parquet, or - for CSV on stdout (default)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``table`` with parsed arguments."""
    from dicomsel.cli.main import ExitCode
    from dicomsel.errors import DicomselError
    from dicomsel.io.files import write_text
    from dicomsel.measurements import measurements, to_csv, write_parquet

    out = str(args.output)
    if out != "-" and not out.lower().endswith((".csv", ".parquet")):
        log.error("-o %s: give FILE.csv, FILE.parquet or -", out)
        return ExitCode.USAGE
    try:
        rows = measurements(args.inputs)
        if out.lower().endswith(".parquet"):
            write_parquet(rows, out)
        else:
            write_text(out, to_csv(rows))
    except DicomselError as e:
        log.error("%s", e)
        return ExitCode.ERROR
    log.info("%d measurement(s)", len(rows))
    return ExitCode.OK
