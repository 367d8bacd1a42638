"""What the FHIR serialisers (XML, Turtle) read of fhir.resources' R5 models.

Both walk a resource in its definition's element order; the element tables
they build differ, the introspection of the models is this one.
"""

from __future__ import annotations

import typing
from typing import Any

from dicomsel.errors import InvalidInputError

__all__ = ["r5_model_class", "unwrap_annotation"]


def unwrap_annotation(annotation: Any) -> tuple[Any, bool]:
    """A model field's type with Optional and List taken off, and whether it repeats.

    Parameters
    ----------
    annotation : typing annotation
        A pydantic field annotation of a fhir.resources model.

    Returns
    -------
    (type, bool)
        The ``Annotated`` primitive or the model class, and True for a list.
    """
    many = False
    a = annotation
    while True:
        origin = typing.get_origin(a)
        if origin is typing.Annotated:
            return a, many
        args = [x for x in typing.get_args(a) if x is not type(None)]
        if origin in (list, typing.List) and args:  # noqa: UP006
            many = True
            a = args[0]
        elif args and origin is not None:
            a = args[0]
        else:
            return a, many


def r5_model_class(resource_type: str) -> Any:
    """The fhir.resources R5 model class of a resource or datatype name.

    Parameters
    ----------
    resource_type : str

    Returns
    -------
    type

    Raises
    ------
    dicomsel.errors.InvalidInputError
        When fhir.resources has no such type.
    """
    from fhir.resources import get_fhir_model_class

    try:
        return get_fhir_model_class(resource_type)
    except KeyError:
        raise InvalidInputError(f"unknown FHIR resource type {resource_type!r}") from None
