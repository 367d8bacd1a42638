"""What the data generators in tools/ share: write the file, or check that it is current.

``python tools/gen_X.py`` writes its file; ``--check`` exits 1 when the committed
file differs from what would be written (the tests run it, so a stale table fails).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path


def write_or_check(out: Path, render: Callable[[], str]) -> int:
    """Write ``render()`` to ``out``, or with ``--check`` in argv, compare; the exit code."""
    text = render()
    if "--check" in sys.argv:
        return 0 if out.exists() and out.read_text(encoding="utf-8") == text else 1
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out}")
    return 0
