"""Docs that are generated must be current."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT


def test_cli_reference_is_current() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_cli_docs.py"), "--check"], env=env, check=False
    )
    assert proc.returncode == 0, "docs/cli.md is stale: run python tools/gen_cli_docs.py"


def test_readme_shows_the_two_commands_first() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = text.split("```", 2)[1]
    assert "make demo" in first_block and "make test" in first_block
