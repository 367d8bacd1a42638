"""The content tree of a KOS (TID 2010): how each referenced instance is an item."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

__all__ = ["WAVEFORM_PREFIX", "value_type"]

#: The waveform storage classes (PS3.6 Annex A): referenced with WAVEFORM items.
WAVEFORM_PREFIX = "1.2.840.10008.5.1.4.1.1.9."


@cache
def _image_sop_classes() -> frozenset[str]:
    text = resources.files("dicomsel").joinpath("data/image_sop_classes.json").read_text("utf-8")
    return frozenset(json.loads(text)["image_sop_classes"])


def value_type(sop_class_uid: str) -> str:
    """The TID 2010 value type that references an instance of ``sop_class_uid``.

    Parameters
    ----------
    sop_class_uid : str
        The SOP Class UID of the referenced instance.

    Returns
    -------
    str
        ``WAVEFORM`` for the waveform storage classes, ``IMAGE`` for the
        classes whose IOD has pixel data (``data/image_sop_classes.json``,
        made by ``tools/gen_image_sop_classes.py``), ``COMPOSITE`` for all
        others, unknown and private ones included.
    """
    if sop_class_uid.startswith(WAVEFORM_PREFIX):
        return "WAVEFORM"
    return "IMAGE" if sop_class_uid in _image_sop_classes() else "COMPOSITE"
