"""Validating FHIR R5 5.0.0 resources: the fast table walk, and fhir.resources under full.

:func:`validate_r5` always runs :func:`dicomsel.fhir.r5.check.check_r5` (HL7's
element table plus the project's checks: what fhir.resources skips, the
required code bindings and the 64-character id limit, included); with
``full`` it adds fhir.resources' pydantic model validation, imported only then.
"""

from __future__ import annotations

from typing import Any

from dicomsel.errors import ValidationError
from dicomsel.fhir.r5.check import (
    REGION_2D_CODES,
    REGION_3D_CODES,
    STATUS_CODES,
    check_r5,
    default_full,
)

__all__ = ["REGION_2D_CODES", "REGION_3D_CODES", "STATUS_CODES", "validate", "validate_r5"]


def model_problems(resource: dict[str, Any]) -> list[str]:
    """What fhir.resources' model of the resource's type finds wrong (imports pydantic).

    Parameters
    ----------
    resource : dict
        FHIR R5 JSON.

    Returns
    -------
    list of str
        ``path: message`` for each pydantic error; empty when the model accepts it.
    """
    from fhir.resources import get_fhir_model_class
    from pydantic import ValidationError as PydanticError

    rtype = resource.get("resourceType", "?")
    try:
        model = get_fhir_model_class(str(rtype))
    except (KeyError, ValueError):  # fhir.resources raises ValueError for an unknown name
        return [f"unknown resourceType {rtype!r}"]
    try:
        model.model_validate(resource)
    except PydanticError as e:
        return [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()]
    except Exception as e:  # fhir_core's own validators crash on some wrong JSON types
        return [f"fhir.resources could not read it: {type(e).__name__}: {e}"]
    return []


def validate_r5(resource: dict[str, Any], full: bool | None = None) -> None:
    """Validate one R5 resource: the fast check, and under ``full`` fhir.resources too.

    Parameters
    ----------
    resource : dict
        FHIR R5 JSON.
    full : bool or None
        Add fhir.resources' model validation; None: as ``DICOMSEL_VALIDATE``
        says (``fast`` when unset).

    Raises
    ------
    dicomsel.errors.ValidationError
        Naming the resource and what is wrong.
    """
    check_r5(resource)
    if full if full is not None else default_full():
        found = model_problems(resource)
        if found:
            rtype = resource.get("resourceType", "?")
            rid = resource.get("id", "?")
            raise ValidationError(f"{rtype}/{rid} is not valid R5: " + "; ".join(found))


#: The flavour interface's name for :func:`validate_r5`.
validate = validate_r5
