"""Write docs/cli.md from the argument parser, so the CLI reference never drifts.

Run ``python tools/gen_cli_docs.py`` after changing an option; the test suite
checks that docs/cli.md is what this prints.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def render() -> str:
    from dicomsel.cli.main import build_parser

    parser = build_parser()
    parts = [
        "# Command-line reference\n",
        "Generated from the argument parser by `tools/gen_cli_docs.py`; do not edit by hand.\n",
        "## dicomsel\n",
        "```text\n" + parser.format_help() + "```\n",
    ]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in sorted(action.choices.items()):
                parts.append(f"## dicomsel {name}\n")
                parts.append("```text\n" + sub.format_help() + "```\n")
    return "\n".join(parts)


def main() -> int:
    import os

    os.environ["COLUMNS"] = "100"
    text = render()
    if "--check" in sys.argv:
        return 0 if DOC.exists() and DOC.read_text(encoding="utf-8") == text else 1
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
