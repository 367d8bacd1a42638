"""``dicomsel fhir-convert``: ImagingSelections from one FHIR flavour to the other.

Each input (a resource, a Bundle or NDJSON; ``-`` for stdin) is read into the
neutral model, each ImagingSelection as the flavour its shape shows (or
``--from``), and written as the ``--to`` flavour. What the target cannot
carry is reported: warnings on stderr and in ``--report``, an error of that
input under ``--strict``. Other resources (Patient, Observation, ...) are
passed through, their references to converted ImagingSelections pointed at
the new ones; Endpoints that selections use are written again from the model.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["add_subparser", "convert_resources", "run"]

log = logging.getLogger("dicomsel")


def add_subparser(sub: Any) -> None:
    """Add ``fhir-convert`` to the subcommands."""
    from dicomsel.cli.convert import add_validate_argument
    from dicomsel.fhir import FORMATS

    p = sub.add_parser(
        "fhir-convert",
        help="convert FHIR ImagingSelections between R5 and R5 Snapshot #1",
        description="Read FHIR ImagingSelections (a resource, a Bundle or NDJSON; - for "
        "stdin), each as the flavour its shape shows, and write them as --to. Anything the "
        "target cannot carry is a warning on stderr and in --report (an error with "
        "--strict). Exit codes: 0 all converted, 1 error, 2 usage, 3 some inputs failed "
        "while the rest were converted and written.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="FHIR JSON or NDJSON file, or -")
    p.add_argument(
        "--to", required=True, choices=("r5", "r5-snapshot1"), help="the flavour to write"
    )
    p.add_argument(
        "--from",
        dest="source",
        choices=("auto", "r5", "r5-snapshot1"),
        default="auto",
        help="the flavour of the input (default auto: each resource by its shape)",
    )
    p.add_argument(
        "-o", "--output", default="-", metavar="OUT", help="output file, or - for stdout (default)"
    )
    p.add_argument(
        "--format",
        choices=FORMATS,
        default="bundle",
        help="collection Bundle (default), transaction Bundle of PUTs, or NDJSON",
    )
    p.add_argument(
        "--xml", action="store_true", help="write FHIR XML (bundle or transaction formats)"
    )
    p.add_argument(
        "--report", metavar="FILE", help="write a JSON loss report to FILE (- for stdout)"
    )
    p.add_argument(
        "--strict", action="store_true", help="fail an input on anything the target cannot carry"
    )
    add_validate_argument(p)
    p.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="more logging (-v: info, -vv: debug with tracebacks)",
    )
    p.set_defaults(func=run)


@dataclass(slots=True)
class Converted:
    """One input's conversion: resources written, Endpoints, what was lost."""

    resources: list[dict[str, Any]] = field(default_factory=list)
    shared: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    flavours: dict[str, str] = field(default_factory=dict)


def _rewrite(value: Any, table: dict[str, list[str]], where: str, warnings: list[str]) -> Any:
    """``value`` with references to converted ImagingSelections pointed at the new resources."""
    if isinstance(value, list):
        out: list[Any] = []
        for item in value:
            new = _target(item, table)
            if new is not None:  # a reference in a list: one per resource written
                out += [{**item, "reference": r} for r in new]
            else:
                out.append(_rewrite(item, table, where, warnings))
        return out
    if isinstance(value, dict):
        new = _target(value, table)
        if new is not None:
            if len(new) > 1:
                warnings.append(
                    f"{where}: {value['reference']} became {len(new)} resources; "
                    f"this single reference now points at the first, {new[0]}"
                )
            return {**value, "reference": new[0]}
        return {k: _rewrite(v, table, where, warnings) for k, v in value.items()}
    return value


def _target(value: Any, table: dict[str, list[str]]) -> list[str] | None:
    if not isinstance(value, dict) or not isinstance(value.get("reference"), str):
        return None
    from dicomsel.fhir.ids import target_id

    literal = value["reference"]
    if literal.startswith("urn:uuid:") or literal.startswith("ImagingSelection/"):
        return table.get(target_id(value))
    return None


def convert_resources(
    name: str, text: str | None, to: str, source: str | None = None, full: bool | None = None
) -> Converted:
    """Convert the ImagingSelections of one FHIR input to flavour ``to``.

    Parameters
    ----------
    name : str
        The input file (named in errors).
    text : str or None
        Its content, when already read (stdin).
    to : str
        The flavour to write.
    source : str, optional
        The input's flavour; by default each resource's shape decides.
    full : bool or None
        Validate the output with the heavy validators too (``--validate full``);
        None: as ``DICOMSEL_VALIDATE`` says.

    Returns
    -------
    Converted

    Raises
    ------
    dicomsel.errors.DicomselError
        For unreadable input or output that fails the target's validation.
    """
    from dicomsel import fhir
    from dicomsel.fhir import load_resources, read_fhir
    from dicomsel.fhir.ids import target_id

    found = read_fhir(name, text=text, flavour=source)
    writer = fhir.flavour(to)
    out = writer.write(found.selections)
    result = Converted(warnings=list(found.warnings) + out.warnings, flavours=found.flavours)
    for res in out.resources + list(out.shared.values()):
        writer.validate(res, full)
    result.resources = list(out.resources)
    result.shared = dict(out.shared)
    table = {rid: out.refs.get(key, []) for rid, key in found.keys.items()}
    # Endpoints the selections use are written again from the model; others pass through
    used = set(out.shared)
    for res in load_resources(name, text=text):
        if res.get("resourceType") == "ImagingSelection":
            used.update(target_id(e) for e in res.get("endpoint") or [] if isinstance(e, dict))
    for res in found.other + list(found.patients.values()):
        where = f"{res.get('resourceType')}/{res.get('id', '?')}"
        result.resources.append(_rewrite(res, table, where, result.warnings))
    for rid, ep in sorted(found.endpoints.items()):
        if rid not in used:
            result.shared.setdefault(rid, ep)
    return result


def run(args: argparse.Namespace) -> int:
    """Run ``fhir-convert`` with parsed arguments."""
    from dicomsel.cli.args import check_paths
    from dicomsel.cli.convert import write_atomic
    from dicomsel.cli.logs import NOTICE
    from dicomsel.cli.main import ExitCode
    from dicomsel.errors import DicomselError
    from dicomsel.fhir import serialise

    if args.xml and args.format == "ndjson":
        log.error("--xml: NDJSON has no XML form; use --format bundle or transaction")
        return ExitCode.USAGE
    try:
        check_paths(args.inputs, args.output, args.report)
    except DicomselError as e:
        log.error("%s", e)
        return ExitCode.USAGE
    started = time.monotonic()
    entries: list[dict[str, Any]] = []
    resources: list[dict[str, Any]] = []
    shared: dict[str, dict[str, Any]] = {}
    for name in args.inputs:
        entry: dict[str, Any] = {"path": name}
        entries.append(entry)
        try:
            text = sys.stdin.read() if name == "-" else None
            done = convert_resources(
                "<stdin>" if name == "-" else name,
                text,
                args.to,
                None if args.source == "auto" else args.source,
                args.validate == "full" if args.validate else None,
            )
        except DicomselError as e:
            log.error("%s", e)
            log.debug("details", exc_info=True)
            entry.update(status="failed", reason=str(e), warnings=[], resources=[])
            continue
        for w in done.warnings:
            log.warning("%s: %s", name, w)
        entry["from"] = dict(sorted(done.flavours.items()))
        entry["warnings"] = done.warnings
        if args.strict and done.warnings:
            entry["status"] = "failed"
            entry["reason"] = (
                f"--strict: {len(done.warnings)} warning(s), first: {done.warnings[0]}"
            )
            entry["resources"] = []
            log.error("%s: %s", name, entry["reason"])
            continue
        entry["status"] = "converted"
        entry["resources"] = [f"{r['resourceType']}/{r.get('id')}" for r in done.resources]
        resources += done.resources
        for k, v in done.shared.items():
            shared.setdefault(k, v)
    converted = sum(1 for e in entries if e["status"] == "converted")
    failed = len(entries) - converted
    everything = resources + [shared[k] for k in sorted(shared)]
    if args.report:
        report = {
            "summary": {
                "to": args.to,
                "inputs": len(entries),
                "converted": converted,
                "failed": failed,
                "resources": len(everything),
                "warnings": sum(len(e["warnings"]) for e in entries),
            },
            "inputs": entries,
        }
        write_atomic(args.report, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    if converted:
        if args.xml:
            from dicomsel.fhir.xml import serialise_xml

            out = serialise_xml(everything, args.format, args.to)
        else:
            out = serialise(everything, args.format)
        write_atomic(args.output, out)
    log.log(
        NOTICE,
        "%d converted, %d failed; %d resource(s) in %.1f s",
        converted,
        failed,
        len(everything) if converted else 0,
        time.monotonic() - started,
    )
    if not converted:
        return ExitCode.ERROR
    return ExitCode.PARTIAL if failed else ExitCode.OK
