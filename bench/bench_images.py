"""Benchmark `dicomsel convert` on a folder of single-frame images against a pydicom loop.

Usage: python bench/bench_images.py [--files N] [--series N] [--runs N] [--jobs N ...]
                                    [--json] [--min-ratio R] [--keep PATH]

Writes --files (default 5,000) small single-frame CT images (copies of pydicom's
CT_small.dcm with their own UIDs and 64x64 pixel data, --series series of
equal size) into a temporary folder, then times whole processes, alternating:

  a) baseline: ``python -c`` walking the folder (sorted, as dicomsel does) and
     calling ``pydicom.dcmread(path, stop_before_pixels=True)`` on every file;
  b) ``python -m dicomsel convert FOLDER -o OUT.json --jobs N`` for each N of
     --jobs (default 1 and 2).

Each command runs once as a warm-up (imports compiled, files in the page
cache), then --runs times (default 5). The report gives files per second
(files / median time) of each and the ratios to the baseline; the target is
at least 0.7 with one process. Both --jobs runs must write identical output.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import IMAGES_BASELINE as BASELINE
from _common import build_images as build
from _common import child_env, timed

TARGET_RATIO = 0.7


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--series", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument("--keep", type=Path, help="build the folder here and keep it")
    parser.add_argument(
        "--min-ratio",
        type=float,
        default=None,
        help=f"exit 1 if one process is below this ratio (the target is {TARGET_RATIO})",
    )
    args = parser.parse_args(argv)
    env = child_env()
    with tempfile.TemporaryDirectory(prefix="bench_images_") as tmp:
        folder = args.keep or Path(tmp) / "images"
        folder.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        if not any(folder.iterdir()):
            build(folder, args.files, args.series)
        build_s = time.perf_counter() - start
        files = sum(len(f) for _, _, f in os.walk(folder))
        commands = {"baseline": [sys.executable, "-c", BASELINE, str(folder), str(files)]}
        outputs = {}
        for j in args.jobs:
            outputs[j] = Path(tmp) / f"out-{j}.json"
            commands[f"jobs{j}"] = [
                sys.executable,
                "-m",
                "dicomsel",
                "convert",
                str(folder),
                "-o",
                str(outputs[j]),
                "--jobs",
                str(j),
            ]
        for cmd in commands.values():  # warm-up
            timed(cmd, env)
        texts = {j: p.read_bytes() for j, p in outputs.items()}
        if len(set(texts.values())) != 1:
            sys.stderr.write("error: --jobs changed the output\n")
            return 1
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, cmd in commands.items():
                times[name].append(timed(cmd, env))

    medians = {name: statistics.median(v) for name, v in times.items()}
    rate = {name: files / m for name, m in medians.items()}
    ratios = {name: rate[name] / rate["baseline"] for name in rate if name != "baseline"}
    result = {
        "files": files,
        "series": args.series,
        "build_s": round(build_s, 2),
        "runs": args.runs,
        "cpus": os.cpu_count(),
        **{f"{n}_median_s": round(m, 3) for n, m in medians.items()},
        **{f"{n}_files_per_s": round(r, 1) for n, r in rate.items()},
        **{f"{n}_ratio": round(r, 3) for n, r in ratios.items()},
        "target_ratio_jobs1": TARGET_RATIO,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{files} single-frame images in {args.series} series (built in {build_s:.1f} s); "
            f"{args.runs} runs each, {os.cpu_count()} CPUs"
        )
        print(f"{'command':<10} {'median s':>9} {'min s':>9} {'files/s':>9} {'ratio':>7}")
        for name, values in times.items():
            ratio = f"{ratios[name]:.2f}" if name in ratios else ""
            print(
                f"{name:<10} {medians[name]:>9.3f} {min(values):>9.3f} "
                f"{rate[name]:>9.0f} {ratio:>7}"
            )
        if "jobs1" in ratios:
            verdict = "ok" if ratios["jobs1"] >= TARGET_RATIO else "below target"
            print(
                f"one process: {ratios['jobs1']:.2f} of the baseline's files/s "
                f"(target >= {TARGET_RATIO}: {verdict})"
            )
        if "jobs1" in medians and "jobs2" in medians:
            print(f"speed-up with --jobs 2: {medians['jobs1'] / medians['jobs2']:.2f}x")
    if args.min_ratio is not None and ratios.get("jobs1", 1.0) < args.min_ratio:
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
