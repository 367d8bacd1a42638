"""Benchmark ``dicomsel export`` from a real Orthanc against a plain dicomweb-client loop.

Usage: python bench/bench_export.py [--instances N] [--runs N] [--json]

Starts Debian's Orthanc with its DICOMweb plugin on loopback (tests/pacs.py),
stores --instances (default 2,000) header-only CT images in 8 series, then
times, alternating, --runs times each (default 3), whole processes:

  a) the baseline: a plain dicomweb-client loop over the same instances, what an
     export of plain images must do at least: QIDO-RS the studies, series and
     instances, then WADO-RS each instance's metadata (application/dicom+json);
  b) ``dicomsel export --source DICOMWEB --sink ndjson:OUT --jobs 1`` and ``--jobs 2``;
  c) ``dicomsel export --source dimse://... --jobs 1`` and ``--jobs 2`` (C-FIND, then
     C-GET per instance: DIMSE has no metadata-only retrieve, so whole instances);
  d) with --dask (issue 12): ``export --source DICOMWEB --executor dask --jobs 2`` (a
     LocalCluster of 2 workers, start-up included) beside b)'s ``--jobs 2``.

Reports instances/s (instances / median time) and the ratio of each to a), and
the speed-up of --jobs 2 over --jobs 1. Every export's NDJSON must be identical
across jobs (and, but for Endpoints, across DICOMweb and DIMSE).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import REPO, child_env, run

sys.path[:0] = [str(REPO / "tests")]

#: ``python -c LOOP BASE``: the plain dicomweb-client loop (the baseline)
LOOP = """\
import sys
from dicomweb_client.api import DICOMwebClient

client = DICOMwebClient(sys.argv[1])
n = 0
for study in client.search_for_studies(fields=["StudyInstanceUID"]):
    st = study["0020000D"]["Value"][0]
    for series in client.search_for_series(st):
        se = series["0020000E"]["Value"][0]
        offset = 0
        while True:
            page = client.search_for_instances(st, se, offset=offset, limit=1000)
            for inst in page:
                client.retrieve_instance_metadata(st, se, inst["00080018"]["Value"][0])
                n += 1
            if len(page) < 1000:
                break
            offset += len(page)
print(n)
"""


def build(orthanc: Any, folder: Path, count: int) -> None:
    """Store ``count`` header-only CT images (8 series) in Orthanc."""
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.uid import generate_uid

    template = pydicom.dcmread(get_testdata_file("CT_small.dcm"), stop_before_pixels=True)
    series = [generate_uid(entropy_srcs=["bench-export", str(s)]) for s in range(8)]
    for i in range(count):
        ds = template.copy()
        ds.SeriesInstanceUID = series[i % 8]
        ds.SOPInstanceUID = generate_uid(entropy_srcs=["bench-export", "i", str(i)])
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber = i
        path = folder / f"ct{i:05}.dcm"
        ds.save_as(path, enforce_file_format=True)
    orthanc.upload(sorted(folder.iterdir()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--dask", action="store_true", help="add the Dask row (issue 12)")
    parser.add_argument("--no-dimse", action="store_true", help="leave out the DIMSE rows")
    args = parser.parse_args()
    from pacs import CALLING_AET, start_orthanc

    env = child_env()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        orthanc = start_orthanc(base / "orthanc")
        try:
            (base / "in").mkdir()
            build(orthanc, base / "in", args.instances)
            dimse = orthanc.dimse
            cmds: dict[str, list[str]] = {
                "dicomweb-client loop": [sys.executable, "-c", LOOP, orthanc.dicomweb]
            }
            sources = [("DICOMweb", orthanc.dicomweb)]
            if not args.no_dimse:
                sources.append(("DIMSE", dimse))
            for name, source in sources:
                for jobs in (1, 2):
                    cmds[f"export {name} --jobs {jobs}"] = [
                        sys.executable, "-m", "dicomsel", "export", "--source", source,
                        "--sink", f"ndjson:{base / (name + str(jobs))}.ndjson",
                        "--aet", CALLING_AET, "--jobs", str(jobs), "--timezone", "+00:00",
                    ]  # fmt: skip
            if args.dask:
                cmds["export DICOMweb dask 2 workers"] = [
                    *cmds["export DICOMweb --jobs 2"][:-8],
                    "--sink", f"ndjson:{base / 'dask'}.ndjson", "--aet", CALLING_AET,
                    "--executor", "dask", "--jobs", "2", "--timezone", "+00:00",
                ]  # fmt: skip
            times: dict[str, list[float]] = {k: [] for k in cmds}
            run(cmds["dicomweb-client loop"], env)  # warm-up (Orthanc's caches, the OS's)
            for _ in range(args.runs):
                for name, cmd in cmds.items():
                    elapsed, _ = run(cmd, env)
                    times[name].append(elapsed)
            names = [n for n, _ in sources]
            outputs = {f"{n}1": (base / f"{n}1.ndjson").read_bytes() for n in names}
            if args.dask:
                dask_out = (base / "dask.ndjson").read_bytes()
                assert dask_out == outputs["DICOMweb1"], "Dask output differs"
            for name in names:
                second = (base / f"{name}2.ndjson").read_bytes()
                assert second == outputs[f"{name}1"], f"{name}: --jobs 2 output differs"
        finally:
            orthanc.stop()
    base_rate = args.instances / statistics.median(times["dicomweb-client loop"])
    rows = []
    for name, ts in times.items():
        rate = args.instances / statistics.median(ts)
        rows.append({"what": name, "instances_per_s": round(rate, 1), "ratio": rate / base_rate})
    speedups = {
        n: statistics.median(times[f"export {n} --jobs 1"])
        / statistics.median(times[f"export {n} --jobs 2"])
        for n in names
    }
    if args.json:
        print(json.dumps({"rows": rows, "jobs2_speedup": speedups}, indent=2))
        return 0
    print(f"{args.instances} instances in Orthanc, median of {args.runs} runs, whole processes")
    for r in rows:
        print(f"  {r['what']:<28} {r['instances_per_s']:>8.1f}/s  {r['ratio']:.2f}x the loop")
    for n, s in speedups.items():
        print(f"  {n}: --jobs 2 is {s:.2f}x --jobs 1")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
