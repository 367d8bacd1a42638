"""``dicomsel to-kos``: FHIR ImagingSelection -> DICOM Key Object Selection Documents."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from typing import Any

from pydicom.dataset import Dataset

__all__ = ["add_subparser", "run", "save_atomic"]

log = logging.getLogger("dicomsel")


def add_subparser(sub: Any) -> None:
    """Add ``to-kos`` to the subcommands."""
    p = sub.add_parser(
        "to-kos",
        help="write FHIR ImagingSelections as DICOM Key Object Selection documents",
        description="Write the ImagingSelections of FHIR JSON (a resource, a Bundle or "
        "NDJSON; - for stdin) as DICOM Key Object Selection documents: one per patient and "
        "document title, referencing every instance, frame and segment selected. Patient "
        "and study attributes, and SOP classes the input leaves out, come from --context "
        "DICOM files or a PACS, or a Patient resource in the input; --store sends the "
        "documents written to a PACS. The paths written go to stdout, logs to stderr. Exit "
        "codes: 0 written (and stored), 1 error (nothing written, or not stored), 2 usage.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="FHIR JSON or NDJSON file, or -")
    p.add_argument(
        "--context",
        action="extend",
        nargs="+",
        default=[],
        metavar="PATH",
        help="DICOM files or folders (recursive), or a PACS (a DICOMweb base http(s)://... "
        "asked by QIDO-RS, or dimse://AET@HOST:PORT asked by C-FIND), giving patient, study "
        "and SOP class data; files first, then each PACS in the order given",
    )
    p.add_argument(
        "--store",
        action="append",
        default=[],
        metavar="SOURCE",
        help="send each KOS written to a PACS: a DICOMweb base http(s)://... (STOW-RS) or "
        "dimse://AET@HOST:PORT (C-STORE); may be repeated",
    )
    p.add_argument(
        "--aet",
        default="DICOMSEL",
        metavar="AET",
        help="calling AE title for dimse:// peers (default DICOMSEL)",
    )
    p.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="output file when one KOS is written; an existing folder (its name may end "
        "with /) for any number, files named <SOP Instance UID>.dcm (default: the current "
        "folder); checked before any work, never created",
    )
    p.add_argument(
        "--title",
        metavar="CODE",
        help="CID 7010 document title for selections whose code is not one, as a code value "
        "(113000) or VALUE^DCM",
    )
    p.add_argument(
        "--uid-root",
        metavar="ROOT",
        help="root of the new Series and SOP Instance UIDs (default 2.25. and a UUID-derived "
        "integer); the same input always gives the same UIDs",
    )
    p.add_argument(
        "--content-datetime",
        metavar="INSTANT",
        help="Content Date/Time when no selection has issued: a FHIR instant such as "
        "2024-01-02T10:15:00+01:00, or now (the clock)",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="fail on anything a KOS cannot carry (image regions, observation UIDs, ...)",
    )
    p.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="more logging (-v: info, -vv: debug with tracebacks)",
    )
    p.set_defaults(func=run)


def save_atomic(ds: Dataset, path: str) -> None:
    """Write ``ds`` as a DICOM file through a temporary file in the same folder and a rename."""
    from dicomsel.io.files import replace_atomically

    replace_atomically(path, lambda f: ds.save_as(f, enforce_file_format=True), suffix=".dcm")


def _patient_values(context: Any, selections: list[Any]) -> list[str]:
    """Who the patients are, as the input and the context files say: masked in the logs."""
    values: list[str] = []
    for p in context.patients.values():
        values += [p.patient_id, p.name, p.birth_date, p.issuer]
    for res in context.resources.values():
        values += [str(i.get("value", "")) for i in res.get("identifier") or ()]
        values.append(str(res.get("birthDate", "")))
        for name in res.get("name") or ():
            values += [str(name.get("text", "")), str(name.get("family", ""))]
            values += [str(g) for g in name.get("given") or ()]
    for sel in selections:
        subject = getattr(sel, "subject", None)
        if subject is not None:
            if subject.identifier is not None:
                values.append(subject.identifier.value or "")
            values.append(subject.display or "")
    return values


def _check_output(output: str | None) -> None:
    """``-o``, before any work: an existing writable folder, or a file in one."""
    from dicomsel.io.files import check_output, check_output_folder

    if output is None:
        check_output_folder(".", "-o")
    elif os.path.isdir(output) or output.endswith(("/", os.sep)):
        check_output_folder(output, "-o")
    else:
        check_output(output, "-o")


def _targets(output: str | None, datasets: list[Dataset]) -> list[str]:
    """Where each document goes (see ``--output``)."""
    names = [f"{ds.SOPInstanceUID}.dcm" for ds in datasets]
    if output is None:
        return names
    if os.path.isdir(output) or output.endswith(("/", os.sep)):
        return [os.path.join(output, n) for n in names]
    if len(datasets) > 1:
        raise ValueError(
            f"{len(datasets)} KOS documents (one per patient and title): -o must name a "
            f"folder (end it with /), not the file {output!r}"
        )
    return [output]


def _check_pacs(args: argparse.Namespace) -> set[str]:
    """The PACS ``--context`` and ``--store`` name, checked before any work (ValueError)."""
    from dicomsel.io.peer import check_ae_title, parse_peer
    from dicomsel.io.store import is_pacs

    args.aet = check_ae_title(args.aet, "--aet")
    for target in args.store:
        if not is_pacs(target):
            raise ValueError(
                f"--store {target!r}: not a PACS; give http(s)://BASE or dimse://AET@HOST:PORT"
            )
    named = {c for c in args.context if is_pacs(c)}
    for source in [*args.store, *named]:
        if source.startswith("dimse://"):
            parse_peer(source)
    return named


def _pacs_context(context: Any, sources: list[str], selections: list[Any], aet: str) -> None:
    """Add what each PACS answers for the studies the selections name."""
    from dicomsel.io.store import context_answers

    studies = [s.study_instance_uid for s in selections if s.study_instance_uid]
    for source in sources:
        answers = context_answers(source, studies, calling_aet=aet)
        log.info("context: %s answered for %d instance(s)", source, len(answers))
        context.add_pacs_answers(answers, source)


def run(args: argparse.Namespace) -> int:
    """Run ``to-kos`` with parsed arguments."""
    from dicomsel.cli.args import parse_content_datetime, parse_title, parse_uid_root
    from dicomsel.cli.logs import NOTICE, mask_values
    from dicomsel.cli.main import ExitCode
    from dicomsel.errors import DicomselError
    from dicomsel.fhir import read_fhir
    from dicomsel.io.store import store
    from dicomsel.kos import Context, KosOptions, write_kos

    try:
        title = parse_title(args.title) if args.title is not None else None
        uid_root = parse_uid_root(args.uid_root) if args.uid_root is not None else None
        when = (
            parse_content_datetime(args.content_datetime)
            if args.content_datetime is not None
            else None
        )
    except (ValueError, DicomselError) as e:
        log.error("%s", e)
        return ExitCode.USAGE
    options = KosOptions(title=title, uid_root=uid_root, content_datetime=when, strict=args.strict)
    try:
        _check_output(args.output)
        pacs = _check_pacs(args)
    except (DicomselError, ValueError) as e:
        log.error("%s", e)
        return ExitCode.USAGE
    started = time.monotonic()

    try:
        selections = []
        patients: dict[str, dict[str, Any]] = {}
        read_warnings: list[str] = []
        for name in args.inputs:
            text = sys.stdin.read() if name == "-" else None
            found = read_fhir("<stdin>" if name == "-" else name, text=text)
            selections.extend(found.selections)
            patients.update(found.patients)
            read_warnings.extend(found.warnings)
            for r in found.other:
                log.info("%s: %s resource not used", name, r.get("resourceType"))
        context = Context.from_paths([c for c in args.context if c not in pacs])
        _pacs_context(context, [c for c in args.context if c in pacs], selections, args.aet)
        context.add_patient_resources(patients)
        mask_values(_patient_values(context, selections))
        for note in context.notes:
            log.info("%s", note)
        if args.strict and read_warnings:
            for w in read_warnings:
                log.error("%s", w)
            log.error(
                "%d warning(s) reading the input (--strict): nothing written", len(read_warnings)
            )
            return ExitCode.ERROR
        for w in read_warnings:
            log.warning("%s", w)
        result = write_kos(selections, context, options)
        targets = _targets(args.output, result.datasets)
    except (DicomselError, ValueError) as e:
        log.error("%s", e)
        log.debug("details", exc_info=True)
        return ExitCode.ERROR
    for note in result.notes:
        log.info("%s", note)
    for w in result.warnings:
        log.warning("%s", w)
    try:
        for ds, path in zip(result.datasets, targets, strict=True):
            save_atomic(ds, path)
            sys.stdout.write(path + "\n")
    except OSError as e:
        log.error("cannot write %s: %s", e.filename or "the output", e.strerror or e)
        return ExitCode.ERROR
    sys.stdout.flush()
    for target in args.store:
        try:
            store(target, result.datasets, calling_aet=args.aet)
        except DicomselError as e:
            log.error("%s: the KOS written were not stored", e)
            return ExitCode.ERROR
        log.info("%d KOS document(s) stored to %s", len(result.datasets), target)
    log.log(
        NOTICE,
        "%d KOS document(s) written from %d selection(s) in %.1f s",
        len(result.datasets),
        len(selections),
        time.monotonic() - started,
    )
    return ExitCode.OK
