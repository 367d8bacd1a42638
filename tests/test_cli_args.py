"""The command-line value parsers (``dicomsel.cli.args``)."""

from __future__ import annotations

import datetime as dt

import pytest

from dicomsel.cli.args import parse_content_datetime, parse_title, parse_uid_root
from dicomsel.errors import InvalidInputError
from dicomsel.model import Code


@pytest.mark.parametrize("text", ["113000", "113000^DCM", " 113000 ^ DCM ^whatever"])
def test_parse_title(text: str) -> None:
    assert parse_title(text) == Code("113000", "DCM", "Of Interest")


@pytest.mark.parametrize("text", ["999999", "113000^SCT"])
def test_parse_title_refuses_codes_outside_cid_7010(text: str) -> None:
    with pytest.raises(ValueError, match="CID 7010"):
        parse_title(text)
    with pytest.raises(ValueError):  # not even a code
        parse_title("")


def test_parse_uid_root() -> None:
    assert parse_uid_root("1.2.3") == "1.2.3"
    assert parse_uid_root("1." + "2" * 45) == "1." + "2" * 45  # 47 characters: 16 digits left
    with pytest.raises(InvalidInputError, match="fewer than 16 digits"):
        parse_uid_root("1." + "2" * 46)
    with pytest.raises(InvalidInputError):
        parse_uid_root("1.02.3")


def test_parse_content_datetime() -> None:
    assert parse_content_datetime("2024-01-02T10:15:00+01:00") == "2024-01-02T10:15:00+01:00"
    now = dt.datetime.fromisoformat(parse_content_datetime("now"))
    assert now.tzinfo is not None and abs(now - dt.datetime.now().astimezone()).total_seconds() < 5
    for bad in ("yesterday", "2024-02-30T10:00:00Z", "2024-01-02T10:15:00"):
        with pytest.raises(InvalidInputError):
            parse_content_datetime(bad)
