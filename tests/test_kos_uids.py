"""UIDs of the KOS writer (``dicomsel.kos.uids``)."""

from __future__ import annotations

import pytest

from dicomsel.errors import InvalidUIDError
from dicomsel.kos.uids import content_key, dicom_uid, kos_uid
from dicomsel.model import Identifier
from dicomsel.uid import is_valid_uid


def test_kos_uid_is_derived_from_its_key() -> None:
    a = kos_uid("key", "instance")
    assert a == kos_uid("key", "instance") and a.startswith("2.25.") and is_valid_uid(a)
    assert a != kos_uid("key", "series") != kos_uid("other", "series")
    rooted = kos_uid("key", "instance", "1.2.3")
    assert rooted.startswith("1.2.3.") and is_valid_uid(rooted)
    long_root = "1." + "2" * 45
    assert len(kos_uid("key", "instance", long_root)) <= 64
    with pytest.raises(InvalidUIDError):
        kos_uid("key", "instance", "1.02")


def test_content_key_is_a_stable_digest() -> None:
    assert content_key(("a", 1, [2, 3])) == content_key(("a", 1, [2, 3]))
    assert content_key(("a", 1, [2, 3])) != content_key(("a", 1, [3, 2]))
    assert len(content_key(None)) == 64


@pytest.mark.parametrize(
    ("ident", "uid"),
    [
        (Identifier.dicom_uid("1.2.3"), "1.2.3"),
        (Identifier("1.2.3", "urn:dicom:uid"), None),  # a UID says its kind, not a system
        (Identifier("1.2.3", "urn:ietf:rfc:3986"), None),
        (None, None),
    ],
)
def test_dicom_uid(ident: Identifier | None, uid: str | None) -> None:
    assert dicom_uid(ident) == uid
