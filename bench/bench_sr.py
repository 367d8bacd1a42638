"""Benchmark `dicomsel convert` on a TID 1500 SR with 500 planar groups against two baselines.

Usage: python bench/bench_sr.py [--runs N] [--groups N] [--json] [--save-sr PATH]
                                [--max-ratio R] [--min-speedup S]

Builds a Comprehensive 3D SR measurement report (TID 1500) with --groups
planar ROI groups (default 500; TID 1410, a POLYLINE and 2 NUM each) with
highdicom (tests/srfiles.py) in a temporary folder, then times whole
processes, alternating:

  a) pydicom: ``python -c`` reading the file with ``pydicom.dcmread`` and
     touching ``elem.value`` of every element, recursively through sequences;
  b) highdicom: ``hd.sr.srread`` + ``MeasurementReport.from_sequence`` +
     ``get_planar_roi_measurement_groups()`` (checking the group count);
  c) ``python -m dicomsel convert FILE -o OUT.json`` (ImagingSelections and
     Observations, each validated).

Each command runs once as a warm-up, then --runs times (default 7). The
report gives the medians and two ratios: dicomsel/pydicom (target <= 1.5) and
highdicom/dicomsel (target >= 3). The repository's ``src`` folder is put
first on PYTHONPATH, so the working tree is measured.
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

from _common import BASELINE as PYDICOM
from _common import build_sr, child_env, importable, timed

TARGET_RATIO = 1.5  # dicomsel / pydicom, at most
TARGET_SPEEDUP = 3.0  # highdicom / dicomsel, at least


HIGHDICOM = """\
import sys
import highdicom as hd

sr = hd.sr.srread(sys.argv[1])
report = hd.sr.MeasurementReport.from_sequence([sr])
groups = report.get_planar_roi_measurement_groups()
if len(groups) != int(sys.argv[2]):
    sys.exit(f"highdicom found {len(groups)} groups, not {sys.argv[2]}")
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each command")
    parser.add_argument("--groups", type=int, default=500, help="planar measurement groups")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument("--save-sr", type=Path, help="also copy the generated SR here")
    parser.add_argument(
        "--max-ratio",
        type=float,
        default=None,
        help=f"exit 1 if dicomsel/pydicom exceeds this (the target is {TARGET_RATIO})",
    )
    parser.add_argument(
        "--min-speedup",
        type=float,
        default=None,
        help=f"exit 1 if highdicom/dicomsel is below this (the target is {TARGET_SPEEDUP})",
    )
    args = parser.parse_args(argv)
    if args.runs < 1 or args.groups < 1:
        parser.error("--runs and --groups must be at least 1")

    env = child_env()
    for module in ("dicomsel.__main__", "highdicom"):
        if not importable(module, env):
            sys.stderr.write(
                f"error: {module} is not importable with {sys.executable}; "
                "install the project with its test dependencies (pip install -e .[test])\n"
            )
            return 2

    with tempfile.TemporaryDirectory(prefix="bench_sr_") as tmp:
        sr = Path(tmp) / f"sr_{args.groups}_groups.dcm"
        out = Path(tmp) / "out.json"
        start = time.perf_counter()
        build_sr(sr, args.groups)
        build_s = time.perf_counter() - start
        if args.save_sr:
            shutil.copyfile(sr, args.save_sr)

        commands = {
            "pydicom": [sys.executable, "-c", PYDICOM, str(sr)],
            "highdicom": [sys.executable, "-c", HIGHDICOM, str(sr), str(args.groups)],
            "dicomsel": [sys.executable, "-m", "dicomsel", "convert", str(sr), "-o", str(out)],
        }
        for cmd in commands.values():  # warm-up: imports compiled, file cached
            timed(cmd, env)
        entries = json.loads(out.read_text(encoding="utf-8"))["entry"]
        kinds = [e["resource"]["resourceType"] for e in entries]
        # a region selection, a group and 2 measurements per group, plus a selection for
        # each evidence series no group selects (the report's Enhanced CT and SEG)
        got = (kinds.count("ImagingSelection"), kinds.count("Observation"))
        if got != (args.groups + 2, 3 * args.groups):
            sys.stderr.write(f"error: dicomsel wrote {got} selections and observations\n")
            return 1
        expected = len(entries)

        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, cmd in commands.items():
                times[name].append(timed(cmd, env))
        sr_bytes = sr.stat().st_size

    medians = {name: statistics.median(values) for name, values in times.items()}
    ratio = medians["dicomsel"] / medians["pydicom"]
    speedup = medians["highdicom"] / medians["dicomsel"]
    result = {
        "groups": args.groups,
        "sr_bytes": sr_bytes,
        "resources": expected,
        "build_s": round(build_s, 4),
        "runs": args.runs,
        **{f"{name}_median_s": round(value, 4) for name, value in medians.items()},
        **{f"{name}_min_s": round(min(times[name]), 4) for name in times},
        "ratio_dicomsel_pydicom": round(ratio, 4),
        "speedup_over_highdicom": round(speedup, 4),
        "target_ratio": TARGET_RATIO,
        "target_speedup": TARGET_SPEEDUP,
    }

    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"TID 1500 SR: {args.groups} planar groups (POLYLINE + 2 NUM), {sr_bytes} bytes "
            f"(built in {build_s:.2f} s), {expected} resources out; {args.runs} runs each"
        )
        print(f"{'command':<10} {'median s':>9} {'min s':>9} {'max s':>9}")
        for name, values in times.items():
            print(f"{name:<10} {medians[name]:>9.3f} {min(values):>9.3f} {max(values):>9.3f}")
        ok_ratio = "ok" if ratio <= TARGET_RATIO else "over target"
        ok_speedup = "ok" if speedup >= TARGET_SPEEDUP else "under target"
        print(f"ratio dicomsel/pydicom: {ratio:.2f} (target <= {TARGET_RATIO}: {ok_ratio})")
        print(
            f"speedup highdicom/dicomsel: {speedup:.2f} (target >= {TARGET_SPEEDUP}: {ok_speedup})"
        )

    if args.max_ratio is not None and ratio > args.max_ratio:
        return 1
    if args.min_speedup is not None and speedup < args.min_speedup:
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
