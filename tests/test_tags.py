"""The tag table: every name is the DICOM keyword of its tag."""

from __future__ import annotations

import pytest
from pydicom.datadict import tag_for_keyword

from dicomsel.dicom import tags


@pytest.mark.parametrize("name", tags.__all__)
def test_each_name_is_the_keyword_of_its_tag(name: str) -> None:
    assert getattr(tags, name) == tag_for_keyword(name)


def test_all_lists_every_tag() -> None:
    names = {n for n in vars(tags) if n[:1].isupper()}
    assert names == set(tags.__all__)
