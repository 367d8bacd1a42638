"""Fixtures the batch tests share: the library's log records, captured by pytest.

Import ``library_logging`` into a test module to use it there (it is autouse).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def library_logging(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Records of the "dicomsel" logger reach ``caplog`` (a CLI test may have left handlers)."""
    logger = logging.getLogger("dicomsel")
    saved = (logger.handlers[:], logger.propagate, logger.level)
    logger.handlers[:] = []
    logger.propagate = True
    caplog.set_level(logging.DEBUG, logger="dicomsel")
    yield caplog
    logger.handlers[:], logger.propagate, logger.level = saved[0], saved[1], saved[2]
