"""Measurement tables: one record per SR measurement (NUM) with its group and image references.

>>> from dicomsel import measurements
>>> rows = measurements(["sr.dcm"])            # doctest: +SKIP
>>> import pandas as pd; pd.DataFrame(rows)    # doctest: +SKIP

Input is DICOM (any SR the readers read, TID 1500 above all) or FHIR that
dicomsel wrote (an R5 Bundle or NDJSON with the Observations). Both go through
the model: the readers' :class:`~dicomsel.model.ObservationRecord` records and
the :class:`~dicomsel.model.Selection` records their ``derived_from`` names.
A measurement with several image references gets them all, in the same
position of each ``referenced_*`` / ``graphic_*`` column, separated by ``;``.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Sequence
from typing import Any

from dicomsel.errors import DicomselError, InvalidInputError
from dicomsel.model import Code, ObservationKind, ObservationRecord, Selection

__all__ = ["COLUMNS", "measurements", "to_csv", "write_parquet"]

#: The columns, in order (docs/table.md says what each holds).
COLUMNS: tuple[str, ...] = (
    "source",
    "study_instance_uid",
    "series_instance_uid",
    "sop_instance_uid",
    "tracking_identifier",
    "tracking_uid",
    "finding_site",
    "finding_site_code",
    "finding",
    "finding_code",
    "concept_code",
    "concept_scheme",
    "concept_meaning",
    "value",
    "unit",
    "unit_meaning",
    "method",
    "method_code",
    "derivation",
    "derivation_code",
    "observation_uid",
    "referenced_sop_instance_uid",
    "referenced_sop_class_uid",
    "referenced_frames",
    "graphic_type",
    "graphic_data",
    "frame_of_reference_uid",
    "referenced_segments",
    "qualitative_evaluations",
    "qualitative_evaluation_codes",
)

_SEP = ";"


def _coded(code: Code | None) -> str:
    if code is None or code.value is None:
        return ""
    return f"{code.scheme or code.system or ''}:{code.value}"


def _num(value: float) -> str:
    return repr(float(value))


def _references(keys: Iterable[str], selections: dict[str, Selection]) -> list[dict[str, str]]:
    refs: list[dict[str, str]] = []
    for key in keys:
        sel = selections.get(key)
        if sel is None:
            continue
        for inst in sel.instances:
            base = {
                "referenced_sop_instance_uid": inst.uid,
                "referenced_sop_class_uid": inst.sop_class_uid or "",
                "referenced_frames": " ".join(str(f) for f in inst.frames),
                "referenced_segments": " ".join(str(s) for s in inst.segments),
                "frame_of_reference_uid": sel.frame_of_reference_uid or "",
            }
            regions = [
                (r.region_type.value.upper(), r.coordinates, "") for r in inst.regions_2d
            ] + [
                (r.region_type.value.upper(), r.coordinates, r.frame_of_reference_uid)
                for r in inst.regions_3d
            ]
            if not regions:
                refs.append({**base, "graphic_type": "", "graphic_data": ""})
            for rtype, coords, frame in regions:
                ref = {**base, "graphic_type": rtype, "graphic_data": " ".join(map(_num, coords))}
                if frame:
                    ref["frame_of_reference_uid"] = frame
                refs.append(ref)
        for r3 in sel.regions_3d:
            refs.append(
                {
                    "referenced_sop_instance_uid": "",
                    "referenced_sop_class_uid": "",
                    "referenced_frames": "",
                    "referenced_segments": "",
                    "graphic_type": r3.region_type.value.upper(),
                    "graphic_data": " ".join(map(_num, r3.coordinates)),
                    "frame_of_reference_uid": r3.frame_of_reference_uid,
                }
            )
    return refs


def _rows(
    source: str,
    series_uid: str,
    observations: Sequence[ObservationRecord],
    selections: Sequence[Selection],
) -> list[dict[str, Any]]:
    by_key = {o.key: o for o in observations}
    sels = {s.key: s for s in selections}
    group_of = {m: o for o in observations if o.kind == ObservationKind.GROUP for m in o.members}
    rows: list[dict[str, Any]] = []
    for rec in observations:
        if rec.kind != ObservationKind.MEASUREMENT:
            continue
        group = group_of.get(rec.key)
        evaluations = [
            by_key[m]
            for m in (group.members if group else ())
            if m in by_key and by_key[m].kind == ObservationKind.QUALITATIVE
        ]
        refs = _references(rec.derived_from or (group.derived_from if group else ()), sels)
        tracking = rec.tracking_id or (group.tracking_id if group else None)
        tracking_uid = rec.tracking_uid or (group.tracking_uid if group else None)
        site = rec.finding_site or (group.finding_site if group else None)
        finding = rec.finding or (group.finding if group else None)
        row: dict[str, Any] = {
            "source": source,
            "study_instance_uid": rec.study_instance_uid or "",
            "series_instance_uid": series_uid,
            "sop_instance_uid": rec.source_uid,
            "tracking_identifier": tracking or "",
            "tracking_uid": tracking_uid or "",
            "finding_site": (site.meaning or "") if site else "",
            "finding_site_code": _coded(site),
            "finding": (finding.meaning or "") if finding else "",
            "finding_code": _coded(finding),
            "concept_code": rec.code.value or "",
            "concept_scheme": rec.code.scheme or rec.code.system or "",
            "concept_meaning": rec.code.meaning or "",
            "value": rec.numeric_value,
            "unit": (rec.unit.value or "") if rec.unit else "",
            "unit_meaning": (rec.unit.meaning or "") if rec.unit else "",
            "method": (rec.method.meaning or "") if rec.method else "",
            "method_code": _coded(rec.method),
            "derivation": (rec.derivation.meaning or "") if rec.derivation else "",
            "derivation_code": _coded(rec.derivation),
            "observation_uid": rec.observation_uid or "",
            "qualitative_evaluations": _SEP.join(
                f"{e.code.meaning or e.code.value}="
                f"{(e.value_code.meaning or e.value_code.value) if e.value_code else e.value_text}"
                for e in evaluations
            ),
            "qualitative_evaluation_codes": _SEP.join(
                f"{_coded(e.code)}={_coded(e.value_code)}" for e in evaluations
            ),
        }
        for col in (
            "referenced_sop_instance_uid",
            "referenced_sop_class_uid",
            "referenced_frames",
            "graphic_type",
            "graphic_data",
            "frame_of_reference_uid",
            "referenced_segments",
        ):
            row[col] = _SEP.join(r[col] for r in refs)
        rows.append({c: row[c] for c in COLUMNS})
    return rows


def _is_fhir(path: str) -> bool:
    with open(path, "rb") as f:
        head = f.read(256).lstrip()
    return head.startswith((b"{", b"<?xml", b"<Bundle"))


def _read_dicom(path: str) -> list[dict[str, Any]]:
    from dicomsel.dicom import read_file
    from dicomsel.dicom.filereader import load

    result = read_file(path)
    ds, _ = load(path)
    series = str(getattr(ds, "SeriesInstanceUID", "") or "")
    return _rows(path, series, result.observations, result.selections)


def _read_fhir(path: str) -> list[dict[str, Any]]:
    from dicomsel.fhir.bundle import load_resources, read_fhir
    from dicomsel.fhir.observation_read import read_observations

    data = read_fhir(path)
    sels = {s.key: s for s in data.selections}
    obs = read_observations(load_resources(path), data.keys, sels)
    return _rows(path, "", obs, data.selections)


def measurements(paths: Iterable[str | os.PathLike[str]]) -> list[dict[str, Any]]:
    """One record per SR measurement (NUM), with its document, group and image references.

    Parameters
    ----------
    paths : iterable of str or path-like
        DICOM SR files, or FHIR (R5 Bundle or NDJSON, JSON or XML) that dicomsel wrote.

    Returns
    -------
    list of dict
        Records with the keys of :data:`COLUMNS`, in input and document order;
        ``value`` is a float (None when the NUM has no value), the rest strings
        (empty when absent). ``pandas.DataFrame(records)`` makes a table.

    Raises
    ------
    dicomsel.errors.DicomselError
        When an input cannot be read (the error names the file).
    """
    rows: list[dict[str, Any]] = []
    for p in paths:
        path = os.fspath(p)
        try:
            fhir = _is_fhir(path)
        except OSError as e:
            raise InvalidInputError(f"{path}: cannot read ({e.strerror})") from e
        rows += _read_fhir(path) if fhir else _read_dicom(path)
    return rows


def to_csv(rows: Iterable[dict[str, Any]]) -> str:
    """The records as CSV text (a header line, then one line per record).

    Parameters
    ----------
    rows : iterable of dict
        Records of :func:`measurements`.

    Returns
    -------
    str
    """
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow(
            {k: ("" if v is None else (_num(v) if k == "value" else v)) for k, v in r.items()}
        )
    return buf.getvalue()


def write_parquet(rows: Sequence[dict[str, Any]], path: str) -> None:
    """Write the records as a Parquet file (``value`` float64, the rest strings).

    Parameters
    ----------
    rows : sequence of dict
    path : str

    Raises
    ------
    dicomsel.errors.DicomselError
        When pyarrow is not installed (the ``dicomsel[parquet]`` extra).
    """
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as e:
        raise DicomselError("Parquet output needs pyarrow: pip install 'dicomsel[parquet]'") from e
    fields = [pa.field(c, pa.float64() if c == "value" else pa.string()) for c in COLUMNS]
    table = pa.table({c: [r[c] for r in rows] for c in COLUMNS}, schema=pa.schema(fields))
    meta = {b"dicomsel": json.dumps({"columns": list(COLUMNS)}).encode()}
    pq.write_table(table.replace_schema_metadata(meta), path)
