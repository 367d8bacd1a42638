"""Validating FHIR R5 5.0.0 resources: fhir.resources plus the checks it skips.

fhir.resources (pydantic models generated from HL7's StructureDefinitions)
does not check required code bindings nor the 64-character id limit; those
are checked here.
"""

from __future__ import annotations

from typing import Any

from dicomsel import terminology
from dicomsel.errors import ValidationError

__all__ = ["REGION_2D_CODES", "REGION_3D_CODES", "STATUS_CODES", "validate", "validate_r5"]

#: ImagingSelection.status (required binding)
STATUS_CODES = frozenset({"available", "entered-in-error", "unknown"})
#: R5's required region type codes, from the terminology table (data/region_types.json)
REGION_2D_CODES = terminology.r5_codes(2)
REGION_3D_CODES = terminology.r5_codes(3)


def validate_r5(resource: dict[str, Any]) -> None:
    """Validate one R5 resource with fhir.resources plus the checks it skips.

    Parameters
    ----------
    resource : dict
        FHIR R5 JSON.

    Raises
    ------
    dicomsel.errors.ValidationError
        Naming the resource and what is wrong.
    """
    from fhir.resources import get_fhir_model_class
    from pydantic import ValidationError as PydanticError

    rtype = resource.get("resourceType", "?")
    rid = resource.get("id", "?")
    problems: list[str] = []
    rid_str = str(rid)
    if not (1 <= len(rid_str) <= 64) or not all(c.isalnum() or c in "-." for c in rid_str):
        problems.append(f"id {rid_str!r} is not a FHIR id (1-64 of A-Z a-z 0-9 - .)")
    if rtype == "ImagingSelection":
        if resource.get("status") not in STATUS_CODES:
            problems.append(f"status {resource.get('status')!r} not in {sorted(STATUS_CODES)}")
        for i, inst in enumerate(resource.get("instance", ())):
            for j, reg in enumerate(inst.get("imageRegion2D", ())):
                if reg.get("regionType") not in REGION_2D_CODES:
                    problems.append(
                        f"instance[{i}].imageRegion2D[{j}].regionType "
                        f"{reg.get('regionType')!r} is not a 2D graphic type"
                    )
            for j, reg in enumerate(inst.get("imageRegion3D", ())):
                if reg.get("regionType") not in REGION_3D_CODES:
                    problems.append(
                        f"instance[{i}].imageRegion3D[{j}].regionType "
                        f"{reg.get('regionType')!r} is not a 3D graphic type"
                    )
    try:
        get_fhir_model_class(rtype).model_validate(resource)
    except PydanticError as e:
        problems.extend(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()
        )
    except KeyError:
        problems.append(f"unknown resourceType {rtype!r}")
    if problems:
        raise ValidationError(f"{rtype}/{rid} is not valid R5: " + "; ".join(problems))


#: The flavour interface's name for :func:`validate_r5`.
validate = validate_r5
