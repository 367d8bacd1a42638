"""Benchmark `dicomsel convert` on large SEGs: time against a pydicom baseline, and peak memory.

Usage: python bench/bench_seg.py [--runs N] [--frames N --segments N] [--defined-length]
                                 [--big-gib G] [--skip-big] [--json]

(a) Time. Builds a binary SEG of --frames frames (default 2,000) over --segments
    segments (default 50), 40 single-frame CT source images, 64x64 pixels, its
    sequences of undefined length as DCMTK-based tools write them (or defined
    length with --defined-length), then times, alternating, whole processes:

      baseline   ``python -c``: ``pydicom.dcmread`` + ``elem.value`` of every element,
                 recursively through sequences;
      frames     ``python -m dicomsel convert SEG --seg-frames`` (reads every frame's
                 functional groups);
      segments   ``python -m dicomsel convert SEG`` (segment-only: never reads them);

    and the same work timed inside each process, after the imports
    (``*_inproc``), which leaves out interpreter start-up and the one-off
    import and validator set-up that every dicomsel process pays. Each command
    runs once as a warm-up, then --runs times (default 5); medians are compared.
    Targets: frames <= 1.2x baseline, segments <= 0.1x baseline.

(b) Memory. Writes a SEG of about --big-gib GiB (default 1): 2048x2048 one-bit
    frames, the header with pydicom and the pixel bytes streamed to the file,
    never built in memory; runs ``dicomsel convert`` with and without
    --seg-frames and reports each process's peak RSS (VmHWM, read by the
    process itself at exit; Linux). The file is removed afterwards. Target:
    <= 150 MB, since Pixel Data is never read.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import BASELINE, PEAK_DICOMSEL, build_seg, child_env, peak_rss_kb, run

TARGET_FRAMES = 1.2
TARGET_SEGMENTS = 0.1
TARGET_RSS_MB = 150


# the same work as the commands above, timed inside the process after its imports
INPROC = """\
import sys, time
mode, path = sys.argv[1], sys.argv[2]
if mode == "baseline":
    from pydicom import dcmread

    def walk(ds):
        n = 0
        for elem in ds:
            elem.value
            n += 1
            if elem.VR == "SQ":
                for item in elem.value:
                    n += walk(item)
        return n

    start = time.perf_counter()
    walk(dcmread(path))
else:
    import logging
    from dicomsel.pipeline import ConvertOptions, convert
    from dicomsel.dicom import ReadOptions
    from dicomsel.fhir import serialise
    from dicomsel.fhir.r5 import validate_r5

    logging.getLogger("dicomsel").addHandler(logging.NullHandler())
    logging.getLogger("dicomsel").propagate = False
    # the validator builds its models on first use: a one-off cost, paid here
    validate_r5({"resourceType": "ImagingSelection", "id": "x", "status": "available",
                 "code": {"text": "x"}})
    start = time.perf_counter()
    opts = ConvertOptions(read=ReadOptions(seg_frames=mode == "frames"))
    serialise(convert([path], opts).all_resources())
print(time.perf_counter() - start)
"""


def rss(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time and peak resident set size in MB of ``python -m dicomsel ARGS`` (Linux)."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", PEAK_DICOMSEL, *args], env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 3):
        sys.stderr.write(f"command failed ({proc.returncode}): {args}\n{proc.stderr}")
        raise SystemExit(1)
    kb = peak_rss_kb(proc.stderr)
    assert kb is not None, "the process reported no peak RSS"
    return elapsed, kb / 1024


def bench_time(args: argparse.Namespace, tmp: Path, env: dict[str, str]) -> dict[str, object]:
    seg = tmp / "seg.dcm"
    start = time.perf_counter()
    size = build_seg(seg, args.frames, args.segments, undefined_length=not args.defined_length)
    build_s = time.perf_counter() - start
    py = sys.executable
    convert = [py, "-m", "dicomsel", "convert", str(seg), "-o", str(tmp / "out.json")]
    commands = {
        "baseline": [py, "-c", BASELINE, str(seg)],
        "frames": [*convert, "--seg-frames"],
        "segments": convert,
        "baseline_inproc": [py, "-c", INPROC, "baseline", str(seg)],
        "frames_inproc": [py, "-c", INPROC, "frames", str(seg)],
        "segments_inproc": [py, "-c", INPROC, "segments", str(seg)],
    }
    for cmd in commands.values():  # warm-up
        run(cmd, env, ok=(0, 3))
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, cmd in commands.items():
            wall, out = run(cmd, env, ok=(0, 3))
            times[name].append(float(out) if name.endswith("_inproc") else wall)
    med = {name: statistics.median(v) for name, v in times.items()}
    return {
        "frames": args.frames,
        "segments": args.segments,
        "undefined_length": not args.defined_length,
        "seg_bytes": size,
        "build_s": round(build_s, 2),
        "runs": args.runs,
        **{f"{n}_median_s": round(m, 4) for n, m in med.items()},
        **{f"{n}_min_s": round(min(times[n]), 4) for n in times},
        "frames_ratio": round(med["frames"] / med["baseline"], 3),
        "segments_ratio": round(med["segments"] / med["baseline"], 3),
        "frames_inproc_ratio": round(med["frames_inproc"] / med["baseline_inproc"], 3),
        "segments_inproc_ratio": round(med["segments_inproc"] / med["baseline_inproc"], 3),
    }


def bench_memory(args: argparse.Namespace, tmp: Path, env: dict[str, str]) -> dict[str, object]:
    from segfiles import seg_header, write_seg

    frame_bytes = 2048 * 2048 // 8
    frames = max(1, round(args.big_gib * (1 << 30) / frame_bytes))
    seg = tmp / "big.dcm"
    start = time.perf_counter()
    ds = seg_header(frames, 8, n_sources=64, rows=2048, cols=2048)
    size = write_seg(ds, seg)
    del ds
    build_s = time.perf_counter() - start
    try:
        convert = ["convert", str(seg), "-o", str(tmp / "big.json")]
        results: dict[str, object] = {"big_frames": frames, "big_bytes": size}
        results["big_build_s"] = round(build_s, 1)
        for name, cmd in (
            ("import_only", ["--import-only"]),
            ("segments", convert),
            ("frames", [*convert, "--seg-frames"]),
        ):
            wall, peak = rss(cmd, env)
            results[f"big_{name}_s"] = round(wall, 2)
            results[f"big_{name}_peak_rss_mb"] = round(peak, 1)
    finally:
        seg.unlink(missing_ok=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--segments", type=int, default=50)
    parser.add_argument("--defined-length", action="store_true")
    parser.add_argument("--big-gib", type=float, default=1.0)
    parser.add_argument("--skip-big", action="store_true", help="skip the 1 GiB memory run")
    parser.add_argument("--skip-time", action="store_true", help="skip the timing runs")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args(argv)
    env = child_env()
    result: dict[str, object] = {"cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="bench_seg_") as name:
        tmp = Path(name)
        if not args.skip_time:
            result |= bench_time(args, tmp, env)
        if not args.skip_big:
            result |= bench_memory(args, tmp, env)
    if args.json:
        print(json.dumps(result))
        return 0
    if not args.skip_time:
        print(
            f"SEG: {result['frames']} frames, {result['segments']} segments, "
            f"{result['seg_bytes']} bytes, sequences of "
            f"{'undefined' if result['undefined_length'] else 'defined'} length; "
            f"{result['runs']} runs each"
        )
        print(f"{'command':<16} {'median s':>9} {'min s':>9}")
        for n in ("baseline", "frames", "segments"):
            for suffix in ("", "_inproc"):
                k = n + suffix
                print(f"{k:<16} {result[k + '_median_s']:>9.4f} {result[k + '_min_s']:>9.4f}")
        print(
            f"whole process: --seg-frames {result['frames_ratio']:.2f}x baseline "
            f"(target <= {TARGET_FRAMES}), segment-only {result['segments_ratio']:.2f}x "
            f"(target <= {TARGET_SEGMENTS})"
        )
        print(
            f"in process:    --seg-frames {result['frames_inproc_ratio']:.2f}x baseline, "
            f"segment-only {result['segments_inproc_ratio']:.3f}x"
        )
    if not args.skip_big:
        print(
            f"big SEG: {result['big_frames']} frames of 2048x2048, {result['big_bytes']} bytes "
            f"(written in {result['big_build_s']} s, removed)"
        )
        for n in ("import_only", "segments", "frames"):
            print(
                f"  {n:<12} peak RSS {result[f'big_{n}_peak_rss_mb']:>7.1f} MB "
                f"in {result[f'big_{n}_s']:.2f} s"
            )
        print(f"  target: peak RSS <= {TARGET_RSS_MB} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
