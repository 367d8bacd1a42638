"""``dicomsel convert``: DICOM files and folders -> FHIR ImagingSelection."""

from __future__ import annotations

import argparse
import json
import logging
import os
from typing import Any

__all__ = [
    "add_conversion_arguments",
    "add_subparser",
    "add_validate_argument",
    "conversion_executor",
    "conversion_options",
    "write_atomic",
]

log = logging.getLogger("dicomsel")


def add_subparser(sub: Any) -> None:
    """Add ``convert`` to the subcommands."""
    from dicomsel.fhir.bundle import OUTPUT_FORMATS

    p = sub.add_parser(
        "convert",
        help="convert DICOM objects (KOS, ...) to FHIR ImagingSelection",
        description="Convert DICOM files, or folders of them (recursively), to FHIR "
        "ImagingSelection resources. JSON goes to stdout (or -o), logs to stderr. "
        "Exit codes: 0 all converted, 1 error, 2 usage, 3 some inputs failed while "
        "the rest were converted and written.",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="DICOM file or folder (symbolic links followed, each folder once), "
        "or - for one DICOM object on stdin",
    )
    p.add_argument(
        "-o",
        "--output",
        default="-",
        metavar="OUT",
        help="output file, or - for stdout (default); an existing folder (or a path ending "
        "in /): one <ResourceType>-<id>.json file per resource",
    )
    p.add_argument(
        "--format",
        choices=OUTPUT_FORMATS,
        default="bundle",
        help="collection Bundle (default), transaction Bundle of PUTs, NDJSON, or turtle "
        "(the collection Bundle as FHIR RDF Turtle)",
    )
    p.add_argument(
        "--xml",
        action="store_true",
        help="write FHIR XML instead of JSON: the Bundle of --format bundle or transaction "
        "(ndjson has no XML form)",
    )
    p.add_argument(
        "--report",
        metavar="FILE",
        help="write a JSON report of every input's outcome to FILE (- for stdout, with -o FILE)",
    )
    add_conversion_arguments(p)
    p.set_defaults(func=run)


def add_conversion_arguments(p: argparse.ArgumentParser) -> None:
    """Add the options of a conversion (flavour, validation, readers, jobs) to a subcommand.

    ``convert`` and ``export`` take the same ones; :func:`conversion_options` reads them.

    Parameters
    ----------
    p : argparse.ArgumentParser
    """
    from dicomsel.fhir import FLAVOURS

    p.add_argument(
        "--fhir", choices=sorted(FLAVOURS), default="r5", help="FHIR flavour (default r5)"
    )
    p.add_argument(
        "--profile",
        choices=("none", "dicom-sr"),
        default="none",
        help="dicom-sr: an SR becomes the HL7 dicom-sr IG's resource graph (DiagnosticReport, "
        "Observations, ImagingSelections, Devices, Practitioners, BodyStructures), each "
        "claiming its profile; other inputs are written as without it (default none; "
        "R5 only)",
    )
    p.add_argument(
        "--strict",
        dest="validation",
        action="store_const",
        const="raise",
        default="warn",
        help="fail an input on any warning (anything left out or changed); "
        "the same as --validation raise",
    )
    p.add_argument(
        "--validation",
        choices=("raise", "warn", "ignore"),
        default="warn",
        help="what a warning does to its input: raise fails it, warn (default) logs it, "
        "ignore only records it in --report",
    )
    add_validate_argument(p)
    p.add_argument(
        "--timezone",
        metavar="OFFSET",
        help="UTC offset such as +01:00 for documents without Timezone Offset "
        "From UTC (else issued is left out with a warning)",
    )
    p.add_argument(
        "--patient-id-system",
        metavar="URI",
        help="identifier system for Patient ID when the file names no issuer OID",
    )
    p.add_argument(
        "--seg-frames",
        action="store_true",
        help="SEG: also list each segment's frames (reads the per-frame functional groups; "
        "R5 cannot carry frames of a SEG instance and reports them)",
    )
    p.add_argument(
        "--max-regions",
        type=int,
        default=1000,
        metavar="N",
        help="bulk annotations: the most regions one annotation group becomes; a larger "
        "group is selected without regions and its count reported (default 1000)",
    )
    p.add_argument(
        "--code",
        metavar="CODE",
        help="images: the selection's code as VALUE^SCHEME[^MEANING] "
        "(default 113000^DCM^Of Interest)",
    )
    p.add_argument(
        "--frames",
        metavar="LIST",
        help="images: frames of multi-frame instances to select, e.g. 1,3,5-8 "
        "(checked against Number of Frames)",
    )
    p.add_argument(
        "--no-observations",
        dest="observations",
        action="store_false",
        help="SR: leave out the Observations (measurements, measurement groups, "
        "qualitative evaluations); write the ImagingSelections only",
    )
    p.add_argument(
        "--item-timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="fail an input whose reading and conversion take longer (default 60; "
        "0: no limit); the batch goes on",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="convert in N processes (0: one per CPU); the output is the same as with 1; "
        "with --executor dask and no --scheduler, a LocalCluster of N workers",
    )
    p.add_argument(
        "--executor",
        choices=("local", "dask"),
        default="local",
        help="where conversion runs: local (default: this process, or --jobs processes) or "
        "dask (a Dask cluster; needs pip install 'dicomsel[dask]'); the output is the same",
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="--executor dask: join the running Dask scheduler at ADDRESS "
        "(tcp://HOST:8786) instead of starting a LocalCluster",
    )
    p.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="more logging (-v: info, -vv: debug with tracebacks)",
    )


def write_atomic(path: str, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and a rename."""
    from dicomsel.io.files import write_text

    write_text(path, text)


def run(args: argparse.Namespace) -> int:
    """Run ``convert`` with parsed arguments."""
    from dicomsel.cli.main import ExitCode

    options = conversion_options(args)
    if options is None or not _check_output(args):
        return ExitCode.USAGE
    from dicomsel.cli.args import check_paths
    from dicomsel.errors import DicomselError

    try:
        check_paths(args.inputs, args.output, args.report, output_folder=_to_folder(args))
    except DicomselError as e:
        log.error("%s", e)
        return ExitCode.USAGE
    if "-" not in args.inputs:
        return _convert(args, options, None)
    from dicomsel.io.files import spool_stdin

    with spool_stdin() as stdin:
        return _convert(args, options, stdin)


def _convert(args: argparse.Namespace, options: Any, stdin: str | None) -> int:
    from dicomsel.cli.logs import NOTICE, ProgressExecutor
    from dicomsel.cli.main import ExitCode
    from dicomsel.errors import DicomselError
    from dicomsel.io.files import FileSource
    from dicomsel.pipeline import run
    from dicomsel.redact import redact_json

    executor = conversion_executor(args, options)
    if executor is None:
        return ExitCode.USAGE
    source = FileSource(args.inputs, stdin=stdin)
    sink = _sink(args)
    progress = ProgressExecutor(executor, verbosity=args.verbose)
    if progress.draws:  # the ETA needs the count: a first walk, only for the bar
        progress.total = sum(1 for _ in source.items())
    try:
        batch = run(source, options, sink, executor=progress)
    except DicomselError as e:  # the executor failed (a cluster unreachable): nothing written
        log.error("%s", e)
        return ExitCode.ERROR
    converted = batch.count("converted")
    failed = batch.count("failed")
    if args.report:
        report = redact_json(batch.report()) if args.verbose < 2 else batch.report()
        write_atomic(args.report, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    counts = {s: batch.count(s) for s in ("converted", "skipped", "failed")}
    log.log(NOTICE, "%s", progress.summary.line(counts, batch.written))
    if not converted:
        if not failed:
            log.error("no input could be converted (%d skipped)", batch.count("skipped"))
        return ExitCode.ERROR
    return ExitCode.PARTIAL if failed else ExitCode.OK


class _TurtleSink:
    """The run's resources as one Turtle document (a collection Bundle), written at the end."""

    def __init__(self, path: str, flavour: str) -> None:
        self.path = path
        self.flavour = flavour
        self.resources: list[dict[str, Any]] = []

    def write(self, resources: Any) -> None:
        self.resources.extend(resources)

    def close(self, commit: bool = True) -> None:
        from dicomsel.fhir.turtle import serialise_turtle

        resources, self.resources = self.resources, []
        if commit:
            write_atomic(self.path, serialise_turtle(resources, "bundle", self.flavour))


def _to_folder(args: argparse.Namespace) -> bool:
    """Whether ``-o`` names a folder (one file per resource) rather than a file."""
    out = str(args.output)
    return out != "-" and (out.endswith(("/", os.sep)) or os.path.isdir(out))


def _sink(args: argparse.Namespace) -> Any:
    """The sink ``-o``, ``--format`` and ``--xml`` ask for; all but XML stream."""
    from dicomsel.io.files import FileSink
    from dicomsel.io.sinks import BundleSink, DirectorySink, NdjsonSink

    if _to_folder(args):
        return DirectorySink(args.output)
    if args.format == "turtle":  # the Turtle Bundle is built whole
        return _TurtleSink(args.output, args.fhir)
    if args.xml:  # the XML Bundle is built whole
        return FileSink(args.output, args.format, args.fhir, True)
    if args.format == "ndjson":
        return NdjsonSink(args.output)
    return BundleSink(args.output, args.format)


def _check_output(args: argparse.Namespace) -> bool:
    """Whether ``--xml``, ``--format`` and ``-o`` agree (logged when they do not)."""
    if args.xml and args.format == "ndjson":
        log.error("--xml: NDJSON has no XML form; use --format bundle or transaction")
        return False
    if args.format == "turtle" and (args.xml or _to_folder(args)):
        log.error("--format turtle: give -o a file (or -), without --xml")
        return False
    if args.xml and _to_folder(args):
        log.error("--xml: -o FOLDER writes one JSON file per resource; give -o a file")
        return False
    return True


def add_validate_argument(p: argparse.ArgumentParser) -> None:
    """Add ``--validate fast|full`` (how each written resource is validated) to a subcommand.

    Parameters
    ----------
    p : argparse.ArgumentParser
    """
    p.add_argument(
        "--validate",
        choices=("fast", "full"),
        default=None,
        help="how each resource written is validated: fast (the default, or "
        "$DICOMSEL_VALIDATE) walks HL7's R5 element table and the Snapshot #1 schema; "
        "full adds fhir.resources' models and jsonschema (slower)",
    )


def conversion_options(args: argparse.Namespace) -> Any:
    """The run's options from the arguments of :func:`add_conversion_arguments`.

    Parameters
    ----------
    args : argparse.Namespace

    Returns
    -------
    dicomsel.pipeline.ConvertOptions or None
        None on a usage error (logged).
    """
    from dicomsel.dicom import ReadOptions
    from dicomsel.errors import Validation
    from dicomsel.pipeline import ConvertOptions

    if args.timezone is not None:
        import re

        if not re.fullmatch(r"[+-]\d\d:?\d\d", args.timezone):
            log.error("--timezone %r is not a UTC offset like +01:00", args.timezone)
            return None
    from dicomsel.dicom.image import parse_code, parse_frames

    try:
        code = parse_code(args.code) if args.code is not None else None
    except ValueError as e:
        log.error("--code: %s", e)
        return None
    try:
        frames = parse_frames(args.frames) if args.frames is not None else ()
    except ValueError as e:
        log.error("--frames: %s", e)
        return None
    if args.profile != "none" and args.fhir != "r5":
        log.error("--profile %s: the IG's profiles are R5; give --fhir r5", args.profile)
        return None
    if args.jobs < 0:
        log.error("--jobs %d: give 1 or more processes, or 0 for one per CPU", args.jobs)
        return None
    if args.max_regions < 0:
        log.error("--max-regions %s: give 0 or more", args.max_regions)
        return None
    if args.item_timeout < 0:
        log.error("--item-timeout %s: give seconds, or 0 for no limit", args.item_timeout)
        return None
    from dicomsel.errors import ValidationError
    from dicomsel.fhir.r5.check import default_full

    try:
        full = args.validate == "full" if args.validate else default_full()
    except ValidationError as e:
        log.error("--validate: %s", e)
        return None
    return ConvertOptions(
        fhir=args.fhir,
        validation=Validation(args.validation),
        read=ReadOptions(
            timezone=args.timezone,
            patient_id_system=args.patient_id_system,
            seg_frames=args.seg_frames,
            code=code,
            frames=frames,
            max_regions=args.max_regions,
        ),
        jobs=args.jobs or os.cpu_count() or 1,
        observations=args.observations,
        item_timeout=args.item_timeout or None,
        profile=args.profile,
        full_validation=full,
    )


def conversion_executor(args: argparse.Namespace, options: Any) -> Any:
    """The executor ``--executor``, ``--scheduler`` and ``--jobs`` ask for.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed with :func:`add_conversion_arguments`.
    options : dicomsel.pipeline.ConvertOptions
        From :func:`conversion_options` (its ``jobs``).

    Returns
    -------
    dicomsel.export.Executor or None
        None on a usage error (logged): ``--scheduler`` without ``--executor dask``,
        or Dask not installed.
    """
    from dicomsel.export.executors import executor_for

    try:
        return executor_for(args.executor, options.jobs, args.scheduler)
    except ValueError as e:
        log.error("--executor %s: %s", args.executor, e)
    except ImportError as e:
        log.error("--executor %s: %s", args.executor, e)
    return None
