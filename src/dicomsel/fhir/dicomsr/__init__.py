"""``--profile dicom-sr``: an SR's whole resource graph, per the HL7 dicom-sr IG.

The HL7 "DICOM SR to FHIR Resource Mapping" IG (hl7.fhir.uv.dicom-sr 1.0.0) maps a
TID 1500 Measurement Report to a DiagnosticReport, Observations, ImagingSelections,
Devices, Practitioners and BodyStructures, each with a profile. :func:`write_graph`
builds that graph from an SR's read result and the R5 resources dicomsel writes for
it; docs/profile-dicom-sr.md says what comes from where.
"""

from __future__ import annotations

from dicomsel.fhir.dicomsr.graph import PROFILES, write_graph

__all__ = ["PROFILES", "write_graph"]
