"""The neutral model of an SR document as a whole, for writers of a report's resource graph.

Beside :mod:`dicomsel.model` (which holds what a selection and an observation are):
what the document says of itself (title, flags, observers, equipment, algorithms).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from dicomsel.model import Code, Performer, Reference

__all__ = ["Equipment", "SrDocument"]


@dataclass(frozen=True, slots=True)
class Equipment:
    """General Equipment (PS3.3 C.7.5.1) of the object, as far as it says.

    Parameters
    ----------
    manufacturer, model_name, serial_number : str or None
        Manufacturer (0008,0070), Manufacturer's Model Name (0008,1090),
        Device Serial Number (0018,1000).
    software_versions : tuple of str
        Software Versions (0018,1020), each value.
    device_uid : str or None
        Device UID (0018,1002), when valid.
    """

    manufacturer: str | None = None
    model_name: str | None = None
    serial_number: str | None = None
    software_versions: tuple[str, ...] = ()
    device_uid: str | None = None


@dataclass(frozen=True, slots=True)
class SrDocument:
    """What an SR document says of itself, for a writer of its whole resource graph.

    Parameters
    ----------
    source_uid, sop_class_uid : str
        SOP Instance and Class UID of the document.
    title : Code
        Concept Name Code Sequence of the root (the document title).
    study_instance_uid, series_instance_uid : str or None
    subject : Reference or None
    issued : datetime or None
        Content Date/Time with its zone.
    based_on : tuple of Reference
        Accession Number / requests.
    completion_flag, verification_flag, preliminary_flag : str or None
    person_names : tuple of str
        Person Observer's Name (DCM 121008) of each person observer, as DICOM PN.
    people : tuple of Performer
        The person observers as the reader's performers (same order as far as named).
    device_observers : tuple of Reference
        Device observers (TID 1004).
    equipment : Equipment or None
    algorithms : tuple of (str, str or None)
        Algorithm Name and Version (TID 4019) of each algorithm the content names.
    """

    source_uid: str
    sop_class_uid: str
    title: Code
    study_instance_uid: str | None = None
    series_instance_uid: str | None = None
    subject: Reference | None = None
    issued: dt.datetime | None = None
    based_on: tuple[Reference, ...] = ()
    completion_flag: str | None = None
    verification_flag: str | None = None
    preliminary_flag: str | None = None
    person_names: tuple[str, ...] = ()
    people: tuple[Performer, ...] = ()
    device_observers: tuple[Reference, ...] = ()
    equipment: Equipment | None = None
    algorithms: tuple[tuple[str, str | None], ...] = ()
