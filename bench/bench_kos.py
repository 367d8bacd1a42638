"""Benchmark `dicomsel convert` on a 10,000-reference KOS against a pydicom baseline.

Usage: python bench/bench_kos.py [--runs N] [--json] [--only-baseline] [--max-ratio R]
                                 [--refs N --series N --studies N] [--save-kos PATH]

Builds a Key Object Selection document with --refs references (default
10,000) spread over --series series (default 20) in --studies studies
(default 2) in a temporary folder, then times whole processes, alternating:

  a) baseline: ``python -c`` reading the file with ``pydicom.dcmread`` and
     touching ``elem.value`` of every element, recursively through sequences;
  b) ``python -m dicomsel convert FILE -o OUT.json``.

Each command runs once as a warm-up, then --runs times (default 7).  The
report gives the medians and the ratio b/a; the target is a ratio <= 1.5.
The repository's ``src`` folder is put first on PYTHONPATH, so the working
tree is measured even when dicomsel is not installed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import BASELINE, REPO, build_kos, child_env, importable, timed

TARGET_RATIO = 1.5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each command")
    parser.add_argument("--refs", type=int, default=10_000)
    parser.add_argument("--series", type=int, default=20)
    parser.add_argument("--studies", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument("--save-kos", type=Path, help="also copy the generated KOS here")
    parser.add_argument(
        "--only-baseline", action="store_true", help="time the pydicom baseline only"
    )
    parser.add_argument(
        "--max-ratio",
        type=float,
        default=None,
        help=f"exit 1 if the ratio exceeds this (the target is {TARGET_RATIO})",
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    env = child_env()
    if not args.only_baseline and not importable("dicomsel.__main__", env):
        sys.stderr.write(
            "error: `python -m dicomsel` is not importable "
            f"(tried {REPO / 'src'} and the installed packages with {sys.executable}); "
            "install the project (pip install -e .) or use --only-baseline\n"
        )
        return 2

    with tempfile.TemporaryDirectory(prefix="bench_kos_") as tmp:
        kos = Path(tmp) / "kos_10k.dcm"
        out = Path(tmp) / "out.json"
        start = time.perf_counter()
        build_kos(kos, args.refs, args.series, args.studies)
        build_s = time.perf_counter() - start
        if args.save_kos:
            shutil.copyfile(kos, args.save_kos)

        commands = {"baseline": [sys.executable, "-c", BASELINE, str(kos)]}
        if not args.only_baseline:
            commands["dicomsel"] = [
                sys.executable,
                "-m",
                "dicomsel",
                "convert",
                str(kos),
                "-o",
                str(out),
            ]
        for cmd in commands.values():  # warm-up: imports compiled, file cached
            timed(cmd, env)
        if not args.only_baseline and (not out.exists() or out.stat().st_size == 0):
            sys.stderr.write(f"error: dicomsel convert wrote no output to {out}\n")
            return 1

        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, cmd in commands.items():
                times[name].append(timed(cmd, env))
        kos_bytes = kos.stat().st_size

    medians = {name: statistics.median(values) for name, values in times.items()}
    ratio = medians["dicomsel"] / medians["baseline"] if "dicomsel" in medians else None
    result = {
        "refs": args.refs,
        "series": args.series,
        "studies": args.studies,
        "kos_bytes": kos_bytes,
        "build_s": round(build_s, 4),
        "runs": args.runs,
        **{f"{name}_median_s": round(value, 4) for name, value in medians.items()},
        **{f"{name}_min_s": round(min(times[name]), 4) for name in times},
        "ratio": None if ratio is None else round(ratio, 4),
        "target_ratio": TARGET_RATIO,
    }

    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"KOS: {args.refs} references, {args.series} series, {args.studies} studies, "
            f"{kos_bytes} bytes (built in {build_s:.2f} s); {args.runs} runs each"
        )
        print(f"{'command':<10} {'median s':>9} {'min s':>9} {'max s':>9}")
        for name, values in times.items():
            print(f"{name:<10} {medians[name]:>9.3f} {min(values):>9.3f} {max(values):>9.3f}")
        if ratio is not None:
            verdict = "ok" if ratio <= TARGET_RATIO else "over target"
            print(f"ratio dicomsel/baseline: {ratio:.2f} (target <= {TARGET_RATIO}: {verdict})")

    if args.max_ratio is not None and ratio is not None and ratio > args.max_ratio:
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
