"""``dicomsel export``: the selections of a PACS (or folders) to FHIR, resumable."""

from __future__ import annotations

import argparse
import json
import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dicomsel.io.base import Item

__all__ = ["add_subparser", "open_sink", "open_source"]

log = logging.getLogger("dicomsel")

#: where a FHIR server's bearer token comes from when --token-file is not given
TOKEN_VARIABLE = "DICOMSEL_FHIR_TOKEN"
#: a DICOMweb server's bearer token, read by each process from its own environment
DICOMWEB_TOKEN_VARIABLE = "DICOMSEL_DICOMWEB_TOKEN"


def add_subparser(sub: Any) -> None:
    """Add ``export`` to the subcommands."""
    from dicomsel.cli.convert import add_conversion_arguments

    p = sub.add_parser(
        "export",
        help="export the selections of a PACS (DICOMweb, DIMSE) or folders to FHIR",
        description="Export every instance a reader handles (KOS, SR, SEG, RTSTRUCT, plain "
        "images...) from a PACS or folders to an NDJSON file, a folder or a FHIR server. "
        "With --state, a killed or repeated export resumes: only what is new is converted, "
        "nothing is written twice. Exit codes as convert's.",
    )
    p.add_argument(
        "--source",
        required=True,
        metavar="SOURCE",
        help="http(s)://HOST[:PORT]/PATH (a DICOMweb base: QIDO-RS, WADO-RS), "
        "dimse://CALLED_AET@HOST:PORT (C-FIND, then C-GET; C-MOVE with --move-port), "
        "or a folder or file",
    )
    p.add_argument(
        "--sink",
        required=True,
        metavar="SINK",
        help="ndjson:FILE, dir:FOLDER, or fhir+http(s)://BASE (a FHIR R5 server: "
        "transaction Bundles of PUT Type/id)",
    )
    p.add_argument(
        "--query",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a QIDO-RS / C-FIND matching key (StudyDate=20240101-20240131, "
        "ModalitiesInStudy=SR, PatientID=..., AccessionNumber=..., Modality=..., "
        "SOPClassUID=...); repeatable; without it, every study",
    )
    p.add_argument(
        "--state",
        metavar="FILE",
        help="the SQLite ledger of this export: what was seen, converted and written; "
        "the same command again resumes from it",
    )
    p.add_argument("--report", metavar="FILE", help="write a JSON report of every instance")
    p.add_argument(
        "--dry-run", action="store_true", help="list what would be exported, convert nothing"
    )
    p.add_argument(
        "--aet", default="DICOMSEL", metavar="AET", help="calling AE title (default DICOMSEL)"
    )
    p.add_argument(
        "--move-port",
        type=int,
        metavar="PORT",
        help="DIMSE: retrieve by C-MOVE to a Storage SCP dicomsel runs on PORT (AE --aet)",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=100,
        metavar="N",
        help="FHIR server: entries per transaction Bundle (default 100; halved on 413)",
    )
    p.add_argument(
        "--retries",
        type=int,
        default=5,
        metavar="N",
        help="FHIR server: retries on 429, 5xx and connection errors (default 5)",
    )
    p.add_argument(
        "--token-file",
        metavar="FILE",
        help=f"FHIR server: a file holding the bearer token (default: ${TOKEN_VARIABLE}); "
        "never given on the command line, never logged",
    )
    p.add_argument(
        "--ca-bundle", metavar="FILE", help="CA certificates to verify the servers' TLS with"
    )
    add_conversion_arguments(p)
    p.set_defaults(func=run)


def open_source(spec: str, args: argparse.Namespace) -> Any:
    """The source ``--source`` names: DICOMweb, DIMSE, or files.

    Parameters
    ----------
    spec : str
    args : argparse.Namespace
        ``query``, ``aet``, ``move_port``, ``ca_bundle``.

    Returns
    -------
    dicomsel.io.Source

    Raises
    ------
    ValueError
        On a malformed query or peer address.
    """
    from dicomsel.io.pacs import parse_query

    query = parse_query(args.query)
    if spec.startswith(("http://", "https://")):
        from dicomsel.io.dicomweb import DicomwebSource

        # the token's variable is named, never its value: each worker reads its own
        token_env = DICOMWEB_TOKEN_VARIABLE if os.environ.get(DICOMWEB_TOKEN_VARIABLE) else None
        return DicomwebSource(
            spec.rstrip("/"), query, token_env=token_env, ca_bundle=args.ca_bundle
        )
    if spec.startswith("dimse://"):
        from dicomsel.io.dimse import DimseSource

        return DimseSource(spec, query, calling_aet=args.aet, move_port=args.move_port)
    if args.query:
        raise ValueError("--query: a folder has no query; name the files or folders to export")
    from dicomsel.io.files import FileSource

    return FileSource([spec])


def open_sink(spec: str, args: argparse.Namespace, start: int) -> Any:
    """The sink ``--sink`` names.

    Parameters
    ----------
    spec : str
    args : argparse.Namespace
    start : int
        An NDJSON file's committed length (from the ledger; 0 without one).

    Returns
    -------
    dicomsel.io.Sink

    Raises
    ------
    ValueError
        On an unknown kind of sink, or an unusable path.
    """
    kind, _, rest = spec.partition(":")
    if kind == "ndjson" and rest:
        from dicomsel.io.files import check_output
        from dicomsel.io.sinks import AppendingNdjsonSink, NdjsonSink

        check_output(rest, "--sink")
        return AppendingNdjsonSink(rest, start) if args.state else NdjsonSink(rest)
    if kind == "dir" and rest:
        from dicomsel.io.files import check_output_folder
        from dicomsel.io.sinks import DirectorySink

        os.makedirs(rest, exist_ok=True)
        check_output_folder(rest, "--sink")
        return DirectorySink(rest)
    if kind in ("fhir+http", "fhir+https") and rest.startswith("//"):
        from dicomsel.io.fhirserver import FhirServerSink

        if args.fhir != "r5":
            raise ValueError("--sink fhir+...: a FHIR server takes R5 resources (--fhir r5)")
        return FhirServerSink(
            spec.removeprefix("fhir+"),
            batch_size=args.batch_size,
            retries=args.retries,
            token=_token(args),
            ca_bundle=args.ca_bundle,
        )
    raise ValueError(f"--sink {spec!r}: give ndjson:FILE, dir:FOLDER or fhir+http(s)://BASE")


def _token(args: argparse.Namespace) -> str | None:
    if args.token_file:
        with open(args.token_file, encoding="utf-8") as f:
            return f.read().strip() or None
    return os.environ.get(TOKEN_VARIABLE) or None


def run(args: argparse.Namespace) -> int:
    """Run ``export`` with parsed arguments."""
    from dicomsel.cli.convert import conversion_executor, conversion_options
    from dicomsel.cli.main import ExitCode
    from dicomsel.errors import DicomselError

    options = conversion_options(args)
    if options is None:
        return ExitCode.USAGE
    executor = conversion_executor(args, options)
    if executor is None:
        return ExitCode.USAGE
    if args.batch_size < 1 or args.retries < 0:
        log.error("--batch-size takes 1 or more, --retries 0 or more")
        return ExitCode.USAGE
    try:
        source = open_source(args.source, args)
    except (ValueError, OSError) as e:
        log.error("--source: %s", e)
        return ExitCode.USAGE
    if args.dry_run:
        return _dry_run(source, args)
    from dicomsel.export.job import settings_of
    from dicomsel.export.ledger import Ledger

    ledger = None
    try:
        if args.state:
            ledger = Ledger(args.state, settings_of(options, args.sink))
        start = (ledger.position(args.sink) or 0) if ledger else 0
        try:
            sink = open_sink(args.sink, args, start)
        except (ValueError, OSError) as e:
            log.error("--sink: %s", e)
            return ExitCode.USAGE
        return _export(source, sink, options, ledger, args, executor)
    except DicomselError as e:
        log.error("%s", e)
        return ExitCode.ERROR
    finally:
        if ledger is not None:
            ledger.close()


def _export(
    source: Any, sink: Any, options: Any, ledger: Any, args: argparse.Namespace, executor: Any
) -> int:
    from dicomsel.cli.logs import NOTICE, ProgressExecutor
    from dicomsel.cli.main import ExitCode
    from dicomsel.export.job import export
    from dicomsel.io.files import write_text
    from dicomsel.redact import redact_json

    progress = ProgressExecutor(executor, verbosity=args.verbose)

    def planned(todo: Sequence[Item], earlier: int) -> None:
        progress.total = len(todo)
        studies = _studies(todo)
        where = f" in {studies} stud{'y' if studies == 1 else 'ies'}" if studies else ""
        done = f", {earlier} done by an earlier run" if earlier else ""
        log.log(NOTICE, "%d instance(s) to export%s%s", len(todo), where, done)

    result = export(
        source,
        sink,
        options,
        ledger=ledger,
        sink_name=args.sink,
        executor=progress,
        on_plan=planned,
    )
    batch = result.batch
    if args.report:
        report = result.report()
        report = redact_json(report) if args.verbose < 2 else report
        write_text(args.report, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    counts = {s: batch.count(s) for s in ("converted", "skipped", "failed")}
    line = progress.summary.line(counts, batch.written)
    if result.earlier or result.unchanged:
        line += f", {len(result.earlier)} done earlier, {result.unchanged} resources unchanged"
    log.log(NOTICE, "%s", line)
    failed = batch.count("failed")
    if not batch.count("converted") and failed:
        return ExitCode.ERROR
    if not batch.outcomes and not result.earlier:
        log.error("the source holds nothing to export")
        return ExitCode.ERROR
    return ExitCode.PARTIAL if failed else ExitCode.OK


def _studies(items: Sequence[Item]) -> int:
    """How many studies PACS items are in (0 for files: a folder has no study list)."""
    from dicomsel.io.pacs import ref_of

    studies = set()
    for item in items:
        try:
            studies.add(ref_of(item).study_instance_uid)
        except ValueError:
            return 0
    return len(studies)


def _dry_run(source: Any, args: argparse.Namespace) -> int:
    """Print what an export would read, one line an instance, and read nothing."""
    import sys

    from dicomsel.cli.main import ExitCode
    from dicomsel.errors import DicomselError
    from dicomsel.io.pacs import whole_instance

    try:
        n = 0
        for item in source.items():
            # a PACS item says what its class needs; a file is read to know
            how = "read"
            if item.sop_class_uid is not None:
                whole = whole_instance(item.sop_class_uid)
                how = {True: "instance", False: "metadata", None: "skip"}[whole]
            sys.stdout.write(f"{how}\t{item.sop_class_uid or ''}\t{item.key}\n")
            n += 1
    except DicomselError as e:
        log.error("%s", e)
        return ExitCode.ERROR
    log.info("%d item(s) would be exported", n)
    return ExitCode.OK
