"""Hypothesis strategies building random neutral models (dicomsel.model).

Not a test module: property tests import ``selections()`` (and the smaller
pieces) from here. Values are what readers produce: UIDs that are OIDs
(first arc 0-2, as PS3.5 9.1 builds them), sorted unique subsets, regions
that satisfy their graphic type, codes with a known coding scheme.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import strategies as st

from dicomsel import terminology
from dicomsel.model import (
    ActorKind,
    Code,
    Endpoint,
    EndpointKind,
    Identifier,
    Instance,
    Performer,
    Reference,
    Region2D,
    Region3D,
    RegionType2D,
    RegionType3D,
    Selection,
)

__all__ = [
    "codes",
    "endpoints",
    "instances",
    "regions_2d",
    "regions_3d",
    "selections",
    "uids",
]

SOP_CLASSES = [
    "1.2.840.10008.5.1.4.1.1.2",  # CT
    "1.2.840.10008.5.1.4.1.1.4.1",  # Enhanced MR
    "1.2.840.10008.5.1.4.1.1.66.4",  # SEG
    "1.2.840.10008.5.1.4.1.1.481.3",  # RTSTRUCT
    "1.2.840.10008.5.1.4.1.1.88.22",  # Enhanced SR
]
_SEG, _RT, _SR = SOP_CLASSES[2], SOP_CLASSES[3], SOP_CLASSES[4]

_arc = st.one_of(st.just(0), st.integers(1, 10**12))


@st.composite
def uids(draw: Any) -> str:
    """A DICOM UID that is also an OID: ``[0-2].arc.arc...``, at most 64 characters."""
    first = draw(st.sampled_from(["1.2.840", "2.25", "1.3.6.1.4.1", "2.16.756"]))
    arcs = draw(st.lists(_arc, min_size=1, max_size=6))
    uid = first + "".join(f".{a}" for a in arcs)
    return uid[:64].rstrip(".") if len(uid) > 64 else uid


_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12
).filter(lambda s: s.strip() == s and "  " not in s)

codes = st.builds(
    Code,
    value=st.from_regex(r"[A-Z0-9]{1,8}", fullmatch=True),
    scheme=st.sampled_from(["DCM", "SCT", "LN", "RADLEX", "NCIt", "UMLS", "FMA"]),
    meaning=st.none() | _text,
)

# coordinates that survive JSON and XML: finite, no negative zero
_coord = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False).map(lambda x: x + 0.0)


def _region_coords(dims: int, points: int) -> Any:
    n = points if points > 0 else -points
    size = st.just(n) if points > 0 else st.integers(n, n + 3)
    return size.flatmap(lambda k: st.lists(_coord, min_size=k * dims, max_size=k * dims))


def regions_2d(types: list[str] | None = None) -> Any:
    """Random 2D regions of the given model types (default: all)."""
    rows = [r for r in terminology.region_types() if r.dims == 2 and (not types or r.type in types)]
    return st.sampled_from(rows).flatmap(
        lambda r: _region_coords(2, r.points).map(
            lambda c: Region2D(RegionType2D(r.type), tuple(c))
        )
    )


def regions_3d(for_uid: str, types: list[str] | None = None) -> Any:
    """Random 3D regions in the frame of reference ``for_uid``."""
    rows = [r for r in terminology.region_types() if r.dims == 3 and (not types or r.type in types)]
    return st.sampled_from(rows).flatmap(
        lambda r: _region_coords(3, r.points).map(
            lambda c: Region3D(RegionType3D(r.type), tuple(c), for_uid)
        )
    )


_numbers = st.lists(st.integers(1, 500), max_size=4, unique=True).map(lambda v: tuple(sorted(v)))


@st.composite
def instances(draw: Any, for_uid: str | None = None, regions: bool = True) -> Instance:
    """A selected instance; its subsets follow its SOP class as readers make them."""
    cls = draw(st.sampled_from(SOP_CLASSES))
    frames = segments = rois = ()
    obs: tuple[str, ...] = ()
    if cls == _SEG:
        segments = draw(_numbers)
    elif cls == _RT:
        rois = draw(_numbers)
    elif cls == _SR:
        obs = tuple(sorted(draw(st.lists(uids(), max_size=2, unique=True))))
    else:
        frames = draw(_numbers)
    r2: tuple[Region2D, ...] = ()
    r3: tuple[Region3D, ...] = ()
    if regions and cls not in (_SEG, _RT, _SR):
        r2 = tuple(draw(st.lists(regions_2d(), max_size=2)))
    if regions and cls == _SR and for_uid:
        r3 = tuple(draw(st.lists(regions_3d(for_uid), max_size=1)))
    return Instance(
        uid=draw(uids()),
        sop_class_uid=cls,
        number=draw(st.none() | st.integers(1, 9999)),
        frames=frames,
        segments=segments,
        rois=rois,
        observation_uids=obs,
        regions_2d=r2,
        regions_3d=r3,
    )


endpoints = st.one_of(
    st.builds(
        Endpoint,
        kind=st.just(EndpointKind.DICOMWEB),
        address=st.from_regex(r"https://pacs[0-9]\.example/dicom-web", fullmatch=True),
    ),
    st.builds(
        Endpoint,
        kind=st.just(EndpointKind.DIMSE),
        ae_title=st.from_regex(r"AE[A-Z]{1,6}", fullmatch=True),
    ),
)

_ISSUED = dt.datetime(2024, 1, 2, 10, 15, tzinfo=dt.timezone(dt.timedelta(hours=1)))

_references = st.builds(
    Reference,
    kind=st.sampled_from([ActorKind.PATIENT, ActorKind.REQUEST, ActorKind.PERSON]),
    identifier=st.builds(
        Identifier,
        value=st.from_regex(r"[A-Z0-9]{1,10}", fullmatch=True),
        system=st.none() | st.just("urn:oid:1.2.3.4"),
    ),
)


@st.composite
def selections(draw: Any, *, r5_only: bool = True, max_instances: int = 4) -> Selection:
    """A random selection of one series.

    ``r5_only``: also fill what only R5 carries (status, category, focus,
    series and instance numbers), which the Snapshot #1 writer reports.
    """
    for_uid = draw(st.none() | uids())
    insts = draw(
        st.lists(
            instances(for_uid=for_uid),
            min_size=0,
            max_size=max_instances,
            unique_by=lambda i: i.uid,
        )
    )
    if not r5_only:
        insts = [
            Instance(
                uid=i.uid,
                sop_class_uid=i.sop_class_uid,
                frames=i.frames,
                segments=i.segments,
                rois=i.rois,
                observation_uids=i.observation_uids,
                regions_2d=i.regions_2d,
                regions_3d=i.regions_3d,
            )
            for i in insts
        ]
    source = draw(uids())
    return Selection(
        key=draw(st.from_regex(r"test\|[a-z0-9]{1,8}", fullmatch=True)),
        source_uid=source,
        code=draw(codes),
        study_instance_uid=draw(uids()),
        series_instance_uid=draw(uids()),
        series_number=draw(st.none() | st.integers(1, 999)) if r5_only else None,
        frame_of_reference_uid=for_uid,
        instances=tuple(insts),
        identifiers=(Identifier.dicom_uid(source),),
        based_on=tuple(draw(st.lists(_references, max_size=1))),
        subject=draw(st.none() | _references),
        issued=draw(st.none() | st.just(_ISSUED)),
        performers=tuple(Performer(r) for r in draw(st.lists(_references, max_size=1))),
        status=draw(st.sampled_from(["available", "unknown"])) if r5_only else "available",
        categories=tuple(draw(st.lists(codes, max_size=1))) if r5_only else (),
        endpoints=tuple(draw(st.lists(endpoints, max_size=2, unique=True))),
        body_site=draw(st.none() | codes),
        description=draw(st.none() | _text),
    )
