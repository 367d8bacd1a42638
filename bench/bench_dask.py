"""Benchmark `dicomsel convert` on Dask against the local process pool, in one run.

Usage: python bench/bench_dask.py [--files N] [--series N] [--runs N] [--sizes 16,100,250]
                                  [--json]

Writes --files (default 2,000) small single-frame CT images (as bench_images.py)
into a temporary folder, then times, alternating, --runs times each (default 3)
after one warm-up of the local command:

  a) ``dicomsel convert FOLDER --format ndjson --jobs 2`` (the local pool of 2 processes);
  b) ``dicomsel convert FOLDER --format ndjson --executor dask --jobs 2`` (a LocalCluster
     of 2 workers started and closed by the command: its start-up is in the time);
  c) for each Dask task size of --sizes, the same conversion through the library
     (``dicomsel.run`` with ``DaskExecutor(scheduler=..., batch_size=N)``) on a
     LocalCluster of 2 workers that this script keeps running, and on one of 1
     worker at the default size: throughput without the cluster's start-up.

Every command is a whole process; every output must be byte-identical. The
report gives files per second (files / median time) and the ratio of each to
a). The default task size (``DEFAULT_TASK_SIZE``, 250) was chosen from these
runs: docs/scale-out.md has the numbers. PACS instances (issue 12 asks for 2,000
over DICOMweb too) are measured only when ``dicomsel.io.dicomweb`` exists; else
the report says so.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import REPO, child_env, importable, timed

# the scheduler (in this process) unpickles the tasks: it needs dicomsel as the workers do
sys.path[:0] = [str(REPO / "src"), str(REPO / "tests"), str(REPO / "sample_dicom")]

#: ``python -c API FOLDER OUT SCHEDULER SIZE``: the conversion through the library on a cluster
API = """\
import sys
from dicomsel import ConvertOptions, run
from dicomsel.dicom import ReadOptions
from dicomsel.export import DaskExecutor
from dicomsel.io.files import FileSource
from dicomsel.io.sinks import NdjsonSink

folder, out, scheduler, size = sys.argv[1:5]
options = ConvertOptions(read=ReadOptions(timezone="+00:00"))
executor = DaskExecutor(scheduler=scheduler, batch_size=int(size))
batch = run(FileSource([folder]), options, NdjsonSink(out), executor=executor)
assert batch.count("failed") == 0
"""


def build(folder: Path, files: int, series: int) -> None:
    from segfiles import ct_slices

    per_series = -(-files // series)
    written = 0
    for s in range(series):
        n = min(per_series, files - written)
        for i, ds in enumerate(ct_slices(n, name=f"bench-dask-{s}", size=64)):
            ds.save_as(folder / f"s{s:03d}_{i:05d}.dcm", enforce_file_format=True)
        written += n


def _cluster(workers: int, env: dict[str, str]) -> Any:
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        worker_dashboard_address=None,
        # no dashboard; its HTTP server (health checks) on a free loopback port, not 8787
        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
        env={"PYTHONPATH": env["PYTHONPATH"]},
        silence_logs=logging.ERROR,
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--series", type=int, default=8)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sizes", default="16,100,250", help="Dask task sizes to compare")
    ap.add_argument("--json", action="store_true", help="one JSON line instead of a table")
    args = ap.parse_args()
    env = child_env()
    if not importable("distributed", env):
        sys.stderr.write("dask.distributed is not installed: pip install 'dicomsel[dask]'\n")
        return 2
    sizes = [int(s) for s in args.sizes.split(",")]
    cli = [sys.executable, "-m", "dicomsel", "convert"]
    with tempfile.TemporaryDirectory(prefix="bench-dask-") as tmp:
        folder, outs = Path(tmp) / "in", Path(tmp) / "out"
        folder.mkdir()
        outs.mkdir()
        build(folder, args.files, args.series)
        common = [str(folder), "--format", "ndjson", "--timezone", "+00:00"]
        commands: dict[str, list[str]] = {
            "local --jobs 2": [*cli, *common, "-o", str(outs / "local"), "--jobs", "2"],
        }
        commands["dask --jobs 2 (own LocalCluster)"] = [
            *cli, *common, "-o", str(outs / "dask-cli"), "--executor", "dask", "--jobs", "2",
        ]  # fmt: skip
        two, one = _cluster(2, env), _cluster(1, env)
        try:
            for size in sizes:
                commands[f"dask 2 workers, {size} items/task"] = [
                    sys.executable, "-c", API, str(folder), str(outs / f"dask2-{size}"),
                    two.scheduler_address, str(size),
                ]  # fmt: skip
            commands["dask 1 worker, 100 items/task"] = [
                sys.executable, "-c", API, str(folder), str(outs / "dask1-100"),
                one.scheduler_address, "100",
            ]  # fmt: skip
            timed(commands["local --jobs 2"], env)  # warm-up: page cache, compiled imports
            times: dict[str, list[float]] = {name: [] for name in commands}
            for _ in range(args.runs):
                for name, cmd in commands.items():
                    times[name].append(timed(cmd, env))
        finally:
            two.close()
            one.close()
        expected = (outs / "local").read_bytes()
        for out in outs.iterdir():
            if out.read_bytes() != expected:
                sys.stderr.write(f"{out.name}: output differs from local --jobs 2\n")
                return 1
    rates = {name: args.files / statistics.median(t) for name, t in times.items()}
    base = rates["local --jobs 2"]
    pacs = (
        "measured separately"
        if importable("dicomsel.io.dicomweb", env)
        else "not measured: dicomsel.io.dicomweb (the DICOMweb source) is not in this tree"
    )
    if args.json:
        print(json.dumps({"files": args.files, "runs": args.runs, "files_per_s": rates,
                          "ratio_to_local": {k: v / base for k, v in rates.items()},
                          "pacs": pacs}))  # fmt: skip
        return 0
    print(f"{args.files} files, {args.series} series, median of {args.runs} runs, "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    print(f"{'':40} {'files/s':>8} {'x local':>8}")
    for name, rate in rates.items():
        print(f"{name:40} {rate:8.1f} {rate / base:8.2f}")
    print(f"PACS instances: {pacs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
