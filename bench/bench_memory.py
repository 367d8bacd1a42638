"""Peak memory of a batch against its number of inputs: 300 KOS against 3,000 (issue 10 item 6).

```sh
.venv/bin/python bench/bench_memory.py                        # every sink, 300 and 3,000 KOS
.venv/bin/python bench/bench_memory.py --counts 300 3000 --refs 100 --sinks ndjson dir
.venv/bin/python bench/bench_memory.py --json --max-growth-mb 20   # exit 1 over the target
```

It builds, in a temporary folder, copies of the sample KOS (``sample_dicom/kos_*.dcm``)
with new SOP Instance UIDs, or with ``--refs N`` KOS of N references each built with
``sample_dicom/kosgen.py``, then runs one whole process per (sink, count) and reports
its peak resident set size (``VmHWM`` at exit):

- ``cli``: ``python -m dicomsel convert DIR --format ndjson -o FILE`` as the CLI stands;
- ``ndjson``, ``transaction``, ``bundle``, ``dir``: :func:`dicomsel.pipeline.run` with
  :class:`~dicomsel.io.sinks.NdjsonSink`, :class:`~dicomsel.io.sinks.BundleSink` or
  :class:`~dicomsel.io.sinks.DirectorySink` (one file per resource).

Target: the largest count within 20 MB of the smallest for every streaming sink.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import PEAK_PRELUDE, REPO, child_env, peak_rss_kb

#: a whole run in a child process, printing its own peak RSS (VmHWM) at exit
DRIVER = (
    PEAK_PRELUDE
    + """\
kind, folder, out = sys.argv[1:4]
if kind == "cli":
    sys.argv = ["dicomsel", "convert", folder, "--format", "ndjson", "-o", out]
    try:
        runpy.run_module("dicomsel", run_name="__main__")
    except SystemExit as e:
        if e.code not in (0, None):
            raise
else:
    import logging

    logging.getLogger("dicomsel").addHandler(logging.NullHandler())
    from dicomsel.io.files import FileSource
    from dicomsel.io.sinks import BundleSink, DirectorySink, NdjsonSink
    from dicomsel.pipeline import run

    sinks = {
        "ndjson": lambda: NdjsonSink(out),
        "transaction": lambda: BundleSink(out, "transaction"),
        "bundle": lambda: BundleSink(out, "bundle"),
        "dir": lambda: DirectorySink(out),
    }
    batch = run(FileSource([folder]), sink=sinks[kind]())
    assert batch.count("converted") == len(batch.outcomes), batch.report()["summary"]
"""
)

SINKS = ("cli", "ndjson", "transaction", "bundle", "dir")


def make_inputs(folder: Path, count: int, refs: int) -> None:
    """``count`` KOS files with distinct SOP Instance UIDs."""
    sys.path.insert(0, str(REPO / "sample_dicom"))
    from pydicom import dcmread

    from kosgen import Ref, make_kos, uid

    folder.mkdir(parents=True)
    if refs:
        sop_class = "1.2.840.10008.5.1.4.1.1.2"
        for n in range(count):
            study, series = uid("mem-study", n % 7), uid("mem-series", n % 31)
            kos = make_kos(
                [Ref(study, series, sop_class, uid("mem-sop", n, r)) for r in range(refs)],
                uid=uid("mem-kos", refs, n),
                series_uid=uid("mem-kos-series", n),
            )
            kos.TimezoneOffsetFromUTC = "+0000"
            kos.save_as(folder / f"kos-{n:05d}.dcm", enforce_file_format=True)
        return
    templates = [dcmread(p) for p in sorted((REPO / "sample_dicom").glob("kos_*.dcm"))]
    for n in range(count):
        ds = templates[n % len(templates)]
        new = uid("mem-copy", n)
        ds.SOPInstanceUID = new
        ds.file_meta.MediaStorageSOPInstanceUID = new
        ds.save_as(folder / f"kos-{n:05d}.dcm", enforce_file_format=True)


def peak(kind: str, folder: Path, out: Path) -> tuple[float, float]:
    """Wall time and peak RSS in MB of one run."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, kind, str(folder), str(out)],
        env=child_env(),
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.stderr.write(f"{kind} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        raise SystemExit(1)
    kb = peak_rss_kb(proc.stderr)
    assert kb is not None, "the process reported no peak RSS"
    return elapsed, kb / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[300, 3000])
    parser.add_argument("--refs", type=int, default=0, help="KOS of N references (0: samples)")
    parser.add_argument("--sinks", nargs="+", choices=SINKS, default=list(SINKS))
    parser.add_argument("--json", action="store_true", help="one JSON line")
    parser.add_argument(
        "--max-growth-mb", type=float, help="exit 1 when a streaming sink grows more"
    )
    args = parser.parse_args()
    results: dict[str, object] = {"counts": args.counts, "refs": args.refs}
    failed = False
    with tempfile.TemporaryDirectory(prefix="dicomsel-bench-") as tmp:
        folders = {}
        for count in args.counts:
            folders[count] = Path(tmp) / f"in-{count}"
            make_inputs(folders[count], count, args.refs)
        for kind in args.sinks:
            peaks = []
            for count in args.counts:
                out = Path(tmp) / f"out-{kind}-{count}"
                if kind == "dir":
                    out.mkdir()
                wall, mb = peak(kind, folders[count], out)
                peaks.append(mb)
                results[f"{kind}_{count}_peak_rss_mb"] = round(mb, 1)
                results[f"{kind}_{count}_seconds"] = round(wall, 2)
            growth = peaks[-1] - peaks[0]
            results[f"{kind}_growth_mb"] = round(growth, 1)
            if args.max_growth_mb is not None and kind != "cli" and growth > args.max_growth_mb:
                failed = True
    if args.json:
        print(json.dumps(results))
    else:
        for key, value in results.items():
            print(f"{key:32} {value}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
