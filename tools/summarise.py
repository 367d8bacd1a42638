"""Print a short summary of a dicomsel output Bundle and its report (used by `make demo`)."""

from __future__ import annotations

import json
import sys
from collections import Counter


def main(bundle_path: str, report_path: str) -> int:
    with open(report_path, encoding="utf-8") as f:
        report = json.load(f)
    s = report["summary"]
    print(
        f"\ninputs: {s['inputs']}  converted: {s['converted']}  skipped: {s['skipped']}  "
        f"failed: {s['failed']}"
    )
    for item in report["inputs"]:
        if item["status"] == "failed":
            print(f"  failed  {item['path']}: {item.get('reason')}")
    try:
        with open(bundle_path, encoding="utf-8") as f:
            bundle = json.load(f)
    except FileNotFoundError:
        print("no output written")
        return 1
    kinds = Counter(e["resource"]["resourceType"] for e in bundle.get("entry", ()))
    print(
        f"{bundle_path}: Bundle ({bundle['type']}) with "
        + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    )
    for e in bundle.get("entry", ()):
        r = e["resource"]
        if r["resourceType"] != "ImagingSelection":
            continue
        code = r["code"].get("coding", [{}])[0].get("display") or r["code"].get("text")
        inst = r.get("instance", [])
        subsets = sum(len(i.get("subset", [])) for i in inst)
        print(
            f"  {code!s:<28} series {r.get('seriesUid', '?')}: {len(inst)} instance(s)"
            + (f", {subsets} subset item(s)" if subsets else "")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
