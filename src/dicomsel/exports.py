"""The public names :mod:`dicomsel` imports on first use, and ``__version__`` (PEP 562).

A command imports only the parts it runs: ``dicomsel --help`` no reader, a
conversion no KOS writer; importlib.metadata (tens of milliseconds) only when
``__version__`` is asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any

__all__ = ["LAZY", "module_getattr", "version"]

#: public name -> the module that defines it
LAZY = {
    **dict.fromkeys(("ReadOptions", "ReadResult", "read_dataset", "read_file"), "dicomsel.dicom"),
    **dict.fromkeys(("FhirInput", "read_fhir"), "dicomsel.fhir"),
    **dict.fromkeys(("Item", "Sink", "Source"), "dicomsel.io"),
    **dict.fromkeys(("Context", "KosOptions", "KosResult", "write_kos"), "dicomsel.kos"),
    "measurements": "dicomsel.measurements",
    **dict.fromkeys(("Batch", "ConvertOptions", "Outcome", "convert", "run"), "dicomsel.pipeline"),
}


def version() -> str:
    """The installed distribution's version (``0+unknown`` from a bare source tree).

    Returns
    -------
    str
    """
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("dicomsel")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


def module_getattr(
    module: str, namespace: dict[str, Any], lazy: Mapping[str, str] | None = None
) -> Callable[[str], Any]:
    """A module ``__getattr__`` (PEP 562) that imports a name of ``lazy`` once.

    The package :mod:`dicomsel` (``lazy`` omitted: :data:`LAZY`, and ``__version__``)
    and its subpackages use it, so that importing one of their modules does not
    import every other one. A submodule not in ``lazy`` is still found by
    ``from package import submodule``: the AttributeError makes the import system
    import it.

    Parameters
    ----------
    module : str
        The package's name, for the AttributeError.
    namespace : dict
        Its ``globals()``: each name is stored there once imported.
    lazy : mapping, optional
        Public name -> the module that defines it.

    Returns
    -------
    callable
    """
    table = LAZY if lazy is None else lazy

    def getattr_(name: str) -> Any:
        where = table.get(name)
        if where is not None:
            value = getattr(import_module(where), name)
        elif name == "__version__" and lazy is None:
            value = version()
        else:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        namespace[name] = value
        return value

    return getattr_
