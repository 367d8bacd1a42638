"""`make bench`: every row of issue 14's table in one run, each a ratio to its own baseline.

Usage: python bench/bench_all.py [--quick] [--runs N] [--json FILE] [--compare PATH_OR_REV]
                                 [--rows ROW ...] [--no-callgrind]
                                 [--callgrind-kos-refs N] [--callgrind-sr-groups N]

Builds every input in a temporary folder with the project's generators, then
times whole processes with the same interpreter, alternating dicomsel and its
baseline (and, with --compare, the other tree's dicomsel) after a warm-up, and
takes medians of CPU time (user + system of the child and its waited-for
children, from ``os.wait4``) and of wall time:

  kos     KOS of 10,000 references: ``dicomsel convert`` / dcmread + walk (<= 0.8x);
          native: ``dcmdump``
  sr      TID 1500 SR of 500 planar groups, the same (<= 0.8x); native: ``dsrdump``
  seg     SEG of 2,000 frames, ``dicomsel convert`` (segment-only) / dcmread + walk
          (<= 0.3x); native: ``dcmdump``
  tiny    the sample KOS of one reference / ``import pydicom`` + read (<= 1.2x)
  images  2,000 single-frame images, ``--jobs 1``: files/s against a bare
          ``dcmread(stop_before_pixels=True)`` loop (>= 1.0x), and ``--jobs 2`` against
          ``--jobs 1`` in wall time (>= 1.7x); and the machine's own ceiling for that: a
          pure-Python loop in 2 processes against 1 (row ``ceiling``)
  big     KOS of 100,000 references: peak RSS (VmHWM) of dicomsel and of the baseline
          (dicomsel <= 300 MB), and their time ratio; --big-runs runs (default 1), the
          other rows being its warm-up
  callgrind  instruction counts (``valgrind --tool=callgrind``, the ``totals:`` line) of
          the kos and sr rows' dicomsel and baseline, whole process: stable under load

The Markdown table goes to stdout, progress to stderr, and with --json FILE every
number to FILE. --compare runs the dicomsel rows also for another tree (a folder
holding ``src/dicomsel``, or a git revision of this repository, checked out with
``git worktree add`` in a temporary folder and removed afterwards), so before and
after come from one run. A missing dcmdump, dsrdump or valgrind is said in its
column; a failing command is said in its column and makes the exit status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from _common import (
    BASELINE,
    IMAGES_BASELINE,
    PARALLEL_CEILING,
    PEAK_DICOMSEL,
    PEAK_PRELUDE,
    REPO,
    CommandFailed,
    Sample,
    build_images,
    build_kos,
    build_seg,
    build_sr,
    child_env,
    compile_tree,
    measure,
)

PY = sys.executable
TINY_KOS = REPO / "sample_dicom" / "kos_single_frame.dcm"
WALK = "dcmread + walk"
ROWS = ("kos", "sr", "seg", "tiny", "images", "big", "callgrind")


@dataclass(frozen=True)
class Sizes:
    """The inputs' sizes: issue 14's table (full) or a smoke test (quick)."""

    kos_refs: int
    sr_groups: int
    seg_frames: int
    images: int
    image_series: int
    big_refs: int
    #: iterations per process of the parallel ceiling's loop (about 0.4 s each, full)
    ceiling_loops: int


FULL = Sizes(10_000, 500, 2_000, 2_000, 10, 100_000, 10_000_000)
QUICK = Sizes(200, 5, 50, 20, 2, 1_000, 100_000)


@dataclass(frozen=True)
class Tree:
    """A source tree whose dicomsel is measured: this one (``label`` "dicomsel") or --compare's."""

    label: str
    src: Path
    commit: str | None

    @property
    def env(self) -> dict[str, str]:
        return child_env(self.src)


@dataclass(frozen=True)
class Command:
    """A process to measure, what it may exit with, and the output it must leave."""

    argv: list[str]
    env: dict[str, str]
    ok: tuple[int, ...] = (0,)
    output: Path | None = None


@dataclass
class Measured:
    """The samples of one command, or why it has none."""

    samples: list[Sample] = field(default_factory=list)
    error: str | None = None

    def median(self, metric: str) -> float | None:
        if self.error or not self.samples:
            return None
        if metric == "rss":
            peaks = [s.peak_rss_kb for s in self.samples if s.peak_rss_kb is not None]
            return max(peaks) / 1024 if peaks else None
        return statistics.median(getattr(s, metric) for s in self.samples)

    def as_json(self) -> dict[str, Any]:
        if self.error:
            return {"error": self.error}
        out: dict[str, Any] = {
            "cpu_s": _round(self.median("cpu")),
            "wall_s": _round(self.median("wall")),
            "cpu_runs_s": [round(s.cpu, 4) for s in self.samples],
            "wall_runs_s": [round(s.wall, 4) for s in self.samples],
        }
        rss = self.median("rss")
        if rss is not None:
            out["peak_rss_mb"] = round(rss, 1)
        return out


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _say(message: str) -> None:
    sys.stderr.write(f"bench: {message}\n")
    sys.stderr.flush()


def _git(*args: str, cwd: Path = REPO) -> str | None:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    except OSError:
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def _commit(tree: Path) -> str | None:
    head = _git("rev-parse", "--short", "HEAD", cwd=tree)
    if head and _git("status", "--porcelain", "--untracked-files=no", cwd=tree):
        head += " (uncommitted changes)"
    return head


@contextmanager
def compare_tree(spec: str) -> Iterator[Tree]:
    """The tree that --compare names: a folder with ``src/dicomsel``, else a git revision.

    A revision is checked out with ``git worktree add --detach`` into a temporary
    folder, which is removed (with its worktree entry) afterwards.
    """
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "src" / "dicomsel").is_dir():
            raise SystemExit(f"error: --compare {spec}: no src/dicomsel in that folder")
        yield Tree(f"before ({spec})", path.resolve() / "src", _commit(path))
        return
    commit = _git("rev-parse", "--verify", "--quiet", f"{spec}^{{commit}}")
    if not commit:
        raise SystemExit(f"error: --compare {spec}: neither a folder nor a git revision")
    folder = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    if _git("worktree", "add", "--detach", str(folder / "tree"), commit) is None:
        shutil.rmtree(folder, ignore_errors=True)
        raise SystemExit(f"error: --compare {spec}: git worktree add failed")
    try:
        yield Tree(f"before ({spec})", folder / "tree" / "src", commit[:7])
    finally:
        _git("worktree", "remove", "--force", str(folder / "tree"))
        _git("worktree", "prune")
        shutil.rmtree(folder, ignore_errors=True)


def _check_output(path: Path) -> str | None:
    """Why ``path`` is not a Bundle with entries, or None when it is one."""
    try:
        bundle = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        return f"no JSON output in {path}: {e}"
    if not isinstance(bundle, dict) or not bundle.get("entry"):
        return f"{path} holds no Bundle entries"
    return None


def alternate(
    commands: dict[str, Command], runs: int, warmup: int, label: str
) -> dict[str, Measured]:
    """Measure every command ``warmup`` times unrecorded, then ``runs`` times, alternating."""
    results = {name: Measured() for name in commands}
    for i in range(warmup + runs):
        _say(f"{label}: " + ("warm-up" if i < warmup else f"run {i - warmup + 1} of {runs}"))
        for name, cmd in commands.items():
            result = results[name]
            if result.error:
                continue
            try:
                sample = measure(cmd.argv, cmd.env, cmd.ok)
            except (CommandFailed, OSError) as e:
                result.error = f"failed: {e}"
                _say(f"{label}: {name} {result.error}")
                continue
            if i >= warmup:
                result.samples.append(sample)
    for name, cmd in commands.items():
        if cmd.output is not None and not results[name].error:
            results[name].error = _check_output(cmd.output)
    return results


def convert(tree: Tree, path: Path, out: Path, *extra: str) -> Command:
    """``python -m dicomsel convert PATH -o OUT EXTRA`` with ``tree``'s src."""
    argv = [PY, "-m", "dicomsel", "convert", str(path), "-o", str(out), *extra]
    return Command(argv, tree.env, output=out)


def native(tool: str, path: Path) -> Command | str:
    """``tool PATH`` (a DCMTK dump), or why it cannot run."""
    exe = shutil.which(tool)
    if exe is None:
        return f"{tool} not installed (make dicomtools)"
    return Command([exe, str(path)], dict(os.environ))


@dataclass(frozen=True)
class Ratio:
    """How a row's ratio is formed from two commands' medians, and its target."""

    subject: str
    reference: str
    metric: str  # "cpu", "wall"
    op: str  # "<=": time ratio subject / reference; ">=": throughput reference / subject
    target: float
    unit: str = "x"

    def of(self, m: dict[str, Measured], subject: str | None = None) -> float | None:
        a = m[subject or self.subject].median(self.metric)
        b = m[self.reference].median(self.metric)
        if a is None or b is None or a <= 0 or b <= 0:
            return None
        return a / b if self.op == "<=" else b / a

    def passes(self, value: float | None) -> bool | None:
        if value is None:
            return None
        return value <= self.target if self.op == "<=" else value >= self.target


def make_row(
    key: str,
    workload: str,
    measured: dict[str, Measured],
    ratio: Ratio,
    trees: list[Tree],
    native_name: str | None = None,
    subject_of: Callable[[Tree], str] = lambda t: t.label,
    reference_of: Callable[[Tree], str] | None = None,
    baseline_label: str = WALK,
    **extra: Any,
) -> dict[str, Any]:
    """One row of the report: medians, the ratio to the baseline, target, pass/miss."""
    value = ratio.of(measured)
    row: dict[str, Any] = {
        "key": key,
        "workload": workload,
        "baseline_label": baseline_label,
        **extra,
        "measures": {name: m.as_json() for name, m in measured.items()},
        "subject": ratio.subject,
        "reference": ratio.reference,
        "metric": ratio.metric,
        "ratio": _round(value),
        "ratio_wall": _round(
            Ratio(ratio.subject, ratio.reference, "wall", ratio.op, 0).of(measured)
        ),
        "target": f"{ratio.op} {ratio.target}{ratio.unit}",
        "pass": ratio.passes(value),
    }
    if native_name:
        row["native"] = native_name
        cpu = measured[ratio.subject].median("cpu")
        tool = measured[native_name].median("cpu")
        row["dicomsel_over_native"] = _round(cpu / tool if cpu and tool else None, 2)
    if len(trees) > 1:
        before = trees[1]
        name = subject_of(before)
        ref = reference_of(before) if reference_of else ratio.reference
        other = Ratio(name, ref, ratio.metric, ratio.op, ratio.target)
        old = other.of(measured)
        now, then = measured[ratio.subject].median("cpu"), measured[name].median("cpu")
        row["compare"] = {
            "label": before.label,
            "commit": before.commit,
            "subject": name,
            "ratio": _round(old),
            "pass": ratio.passes(old),
            "after_over_before_cpu": _round(now / then if now and then else None),
        }
    return row


# ---- the rows


def row_kos(a: argparse.Namespace, tmp: Path, trees: list[Tree]) -> list[dict[str, Any]]:
    kos = tmp / "kos.dcm"
    build_kos(kos, a.sizes.kos_refs)
    commands: dict[str, Command | str] = {"baseline": _baseline(kos)}
    commands |= {t.label: convert(t, kos, tmp / f"kos-{i}.json") for i, t in enumerate(trees)}
    commands["dcmdump"] = native("dcmdump", kos)
    m = _measure_all(commands, a, "kos")
    ratio = Ratio(trees[0].label, "baseline", "cpu", "<=", 0.8)
    title = f"KOS, {a.sizes.kos_refs:,} references"
    return [make_row("kos", title, m, ratio, trees, "dcmdump", bytes=kos.stat().st_size)]


def row_sr(a: argparse.Namespace, tmp: Path, trees: list[Tree]) -> list[dict[str, Any]]:
    sr = tmp / "sr.dcm"
    build_sr(sr, a.sizes.sr_groups)
    commands: dict[str, Command | str] = {"baseline": _baseline(sr)}
    commands |= {t.label: convert(t, sr, tmp / f"sr-{i}.json") for i, t in enumerate(trees)}
    commands["dsrdump"] = native("dsrdump", sr)
    m = _measure_all(commands, a, "sr")
    ratio = Ratio(trees[0].label, "baseline", "cpu", "<=", 0.8)
    title = f"TID 1500 SR, {a.sizes.sr_groups:,} groups"
    return [make_row("sr", title, m, ratio, trees, "dsrdump", bytes=sr.stat().st_size)]


def row_seg(a: argparse.Namespace, tmp: Path, trees: list[Tree]) -> list[dict[str, Any]]:
    seg = tmp / "seg.dcm"
    size = build_seg(seg, a.sizes.seg_frames)
    commands: dict[str, Command | str] = {"baseline": _baseline(seg)}
    commands |= {t.label: convert(t, seg, tmp / f"seg-{i}.json") for i, t in enumerate(trees)}
    commands["dcmdump"] = native("dcmdump", seg)
    m = _measure_all(commands, a, "seg")
    ratio = Ratio(trees[0].label, "baseline", "cpu", "<=", 0.3)
    title = f"SEG, {a.sizes.seg_frames:,} frames (segment-only)"
    return [make_row("seg", title, m, ratio, trees, "dcmdump", bytes=size)]


def row_tiny(a: argparse.Namespace, tmp: Path, trees: list[Tree]) -> list[dict[str, Any]]:
    commands: dict[str, Command | str] = {"baseline": _baseline(TINY_KOS)}
    commands |= {t.label: convert(t, TINY_KOS, tmp / f"tiny-{i}.json") for i, t in enumerate(trees)}
    m = _measure_all(commands, a, "tiny")
    ratio = Ratio(trees[0].label, "baseline", "cpu", "<=", 1.2)
    title = f"tiny KOS (fixed cost; {TINY_KOS.name})"
    size = TINY_KOS.stat().st_size
    label = "import pydicom + read"
    return [make_row("tiny", title, m, ratio, trees, baseline_label=label, bytes=size)]


def row_images(a: argparse.Namespace, tmp: Path, trees: list[Tree]) -> list[dict[str, Any]]:
    folder = tmp / "images"
    folder.mkdir()
    build_images(folder, a.sizes.images, a.sizes.image_series)
    n = a.sizes.images
    commands: dict[str, Command | str] = {
        "baseline": Command([PY, "-c", IMAGES_BASELINE, str(folder), str(n)], child_env())
    }
    for i, t in enumerate(trees):
        for j in (1, 2):
            out = tmp / f"images-{i}-jobs{j}.json"
            commands[f"{t.label} --jobs {j}"] = convert(t, folder, out, "--jobs", str(j))
    spins = a.sizes.ceiling_loops
    for procs in (1, 2):
        argv = [PY, "-c", PARALLEL_CEILING, str(procs), str(spins)]
        commands[f"pure CPU, {procs} process(es)"] = Command(argv, child_env())
    m = _measure_all(commands, a, "images")
    for i, t in enumerate(trees):  # both --jobs must write the same bytes
        outs = [tmp / f"images-{i}-jobs{j}.json" for j in (1, 2)]
        if all(p.exists() for p in outs) and outs[0].read_bytes() != outs[1].read_bytes():
            m[f"{t.label} --jobs 2"].error = "--jobs 2 wrote other bytes than --jobs 1"
    one = Ratio(f"{trees[0].label} --jobs 1", "baseline", "cpu", ">=", 1.0)
    two = Ratio(f"{trees[0].label} --jobs 2", f"{trees[0].label} --jobs 1", "wall", ">=", 1.7)
    images = f"{n:,} single-frame images"
    return [
        make_row(
            "images",
            f"{images}, --jobs 1 (files/s)",
            m,
            one,
            trees,
            subject_of=lambda t: f"{t.label} --jobs 1",
            baseline_label="bare dcmread(stop_before_pixels) loop",
            files=n,
        ),
        make_row(
            "jobs",
            f"{images}, --jobs 2 vs --jobs 1 (files/s, wall)",
            m,
            two,
            trees,
            subject_of=lambda t: f"{t.label} --jobs 2",
            reference_of=lambda t: f"{t.label} --jobs 1",
            baseline_label="--jobs 1",
            files=n,
        ),
        make_row(
            "ceiling",
            "the machine: 2 processes of pure CPU work vs 1 (wall; bounds --jobs 2)",
            m,
            Ratio("pure CPU, 2 process(es)", "pure CPU, 1 process(es)", "wall", ">=", 1.7),
            trees[:1],
            subject_of=lambda t: "pure CPU, 2 process(es)",
            reference_of=lambda t: "pure CPU, 1 process(es)",
            baseline_label="1 process",
            loops=spins,
        ),
    ]


def row_big(a: argparse.Namespace, tmp: Path, trees: list[Tree]) -> list[dict[str, Any]]:
    kos = tmp / "kos-big.dcm"
    build_kos(kos, a.sizes.big_refs)
    commands: dict[str, Command | str] = {
        "baseline": Command([PY, "-c", PEAK_PRELUDE + BASELINE, str(kos)], child_env())
    }
    for i, t in enumerate(trees):
        out = tmp / f"big-{i}.json"
        argv = [PY, "-c", PEAK_DICOMSEL, "convert", str(kos), "-o", str(out), "--item-timeout", "0"]
        commands[t.label] = Command(argv, t.env, output=out)
    m = _measure_all(commands, a, "big", runs=a.big_runs, warmup=0)
    ratio = Ratio(trees[0].label, "baseline", "cpu", "<=", 1.0)  # time: no target
    row = make_row(
        "big", f"KOS, {a.sizes.big_refs:,} references", m, ratio, trees, bytes=kos.stat().st_size
    )
    # the target here is dicomsel's peak RSS; the time ratio is only reported
    peak = m[trees[0].label].median("rss")
    row["target"] = "<= 300 MB peak RSS"
    row["pass"] = None if peak is None else peak <= 300
    if "compare" in row:
        old = m[trees[1].label].median("rss")
        row["compare"]["pass"] = None if old is None else old <= 300
    kos.unlink()
    return [row]


def row_callgrind(a: argparse.Namespace, tmp: Path, trees: list[Tree]) -> list[dict[str, Any]]:
    kos, sr = tmp / "cg-kos.dcm", tmp / "cg-sr.dcm"
    build_kos(kos, a.cg_kos_refs)
    build_sr(sr, a.cg_sr_groups)
    rows = []
    for key, path, title in (
        ("callgrind_kos", kos, f"KOS, {a.cg_kos_refs:,} references"),
        ("callgrind_sr", sr, f"TID 1500 SR, {a.cg_sr_groups:,} groups"),
    ):
        commands: dict[str, Command] = {"baseline": _baseline(path)}
        for i, t in enumerate(trees):
            # no per-file time limit: valgrind slows a process some 30 times
            commands[t.label] = convert(t, path, tmp / f"{key}-{i}.json", "--item-timeout", "0")
        counts: dict[str, int | str] = {}
        valgrind = shutil.which("valgrind")
        for name, cmd in commands.items():
            if valgrind is None:
                counts[name] = "valgrind not installed"
                continue
            _say(f"{key}: {name} under callgrind")
            counts[name] = _callgrind(valgrind, cmd, tmp / f"{key}.callgrind.out")
        ir = {k: v for k, v in counts.items() if isinstance(v, int)}
        row: dict[str, Any] = {
            "key": key,
            "workload": f"{title}, instructions (callgrind)",
            "measures": {
                k: {"instructions": v} if isinstance(v, int) else {"error": v}
                for k, v in counts.items()
            },
            "baseline_label": WALK,
            "subject": trees[0].label,
            "reference": "baseline",
            "metric": "instructions",
            "target": "<= 0.8x",
        }
        value = _ir_ratio(ir, trees[0].label)
        row["ratio"] = _round(value)
        row["pass"] = None if value is None else value <= 0.8
        if len(trees) > 1:
            old = _ir_ratio(ir, trees[1].label)
            now, then = ir.get(trees[0].label), ir.get(trees[1].label)
            row["compare"] = {
                "label": trees[1].label,
                "commit": trees[1].commit,
                "subject": trees[1].label,
                "ratio": _round(old),
                "pass": None if old is None else old <= 0.8,
                "after_over_before_instructions": _round(now / then if now and then else None),
            }
        rows.append(row)
    return rows


def _ir_ratio(ir: dict[str, int], name: str) -> float | None:
    if name in ir and ir.get("baseline"):
        return ir[name] / ir["baseline"]
    return None


def _callgrind(valgrind: str, cmd: Command, out: Path) -> int | str:
    """The instruction count of ``cmd``'s whole process, or why there is none."""
    argv = [valgrind, "--tool=callgrind", f"--callgrind-out-file={out}", *cmd.argv]
    env = dict(cmd.env, PYTHONHASHSEED="0")  # the same dict and set orders every run
    try:
        measure(argv, env, cmd.ok)
    except (CommandFailed, OSError) as e:
        return f"failed: {e}"
    text = out.read_text(encoding="utf-8", errors="replace")
    out.unlink()
    found = re.search(r"^totals:\s+(\d+)", text, re.M) or re.search(
        r"^summary:\s+(\d+)", text, re.M
    )
    if found is None:
        return f"no totals: line in {out.name}"
    if cmd.output is not None and (why := _check_output(cmd.output)):
        return why
    return int(found.group(1))


def _baseline(path: Path) -> Command:
    return Command([PY, "-c", BASELINE, str(path)], child_env())


def _measure_all(
    commands: dict[str, Command | str],
    a: argparse.Namespace,
    label: str,
    runs: int | None = None,
    warmup: int | None = None,
) -> dict[str, Measured]:
    runnable = {k: v for k, v in commands.items() if isinstance(v, Command)}
    m = alternate(
        runnable, a.runs if runs is None else runs, a.warmup if warmup is None else warmup, label
    )
    for k, v in commands.items():
        if isinstance(v, str):
            m[k] = Measured(error=v)
    return {k: m[k] for k in commands}


ROW_FUNCTIONS = {
    "kos": row_kos,
    "sr": row_sr,
    "seg": row_seg,
    "tiny": row_tiny,
    "images": row_images,
    "big": row_big,
    "callgrind": row_callgrind,
}


# ---- the report


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else "pass" if ok else "**miss**"


def _short(error: str) -> str:
    first = error.splitlines()[0] if error else ""
    return first if len(first) <= 60 else first[:57] + "..."


def _cell(row: dict[str, Any], name: str) -> str:
    """A command's median in the row's metric (and its peak RSS), or why there is none."""
    m = row["measures"].get(name, {})
    if "error" in m:
        return _short(m["error"])
    if "instructions" in m:
        return f"{m['instructions'] / 1e9:.3f} G"
    metric = "wall_s" if row["metric"] == "wall" else "cpu_s"
    text = f"{m[metric]:.2f} s" if m.get(metric) is not None else "n/a"
    if row["metric"] == "wall":
        text += " wall"
    if "peak_rss_mb" in m:
        text += f", {m['peak_rss_mb']:.0f} MB"
    return text


def _x(value: float | None, throughput: bool = False, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    return f"{value:.{digits}f}x" + (" throughput" if throughput else "")


def render(report: dict[str, Any]) -> str:
    """The report as Markdown: the timed rows, then the instruction counts."""
    meta = report["meta"]
    compare = meta.get("compare")
    lines = [
        f"dicomsel bench, {meta['mode']} sizes, commit {meta['commit']}"
        + (f"; before = {compare['label']} at {compare['commit']}" if compare else ""),
        "",
        f"{meta['runs']} run(s) of each command after {meta['warmup']} warm-up(s), alternating; "
        "medians of CPU time (user + sys of the whole process) unless the row says wall; "
        f"{meta['cpus']} CPUs, load average {meta['load_start']} at the start, "
        f"{meta['load_end']} at the end.",
        "",
    ]
    head = [
        "workload",
        "dicomsel",
        "baseline",
        "ratio",
        "target",
        "verdict",
        "wall ratio",
        "native dcmtk",
        "dicomsel / dcmtk",
    ]
    if compare:
        head += ["before", "before ratio", "before verdict", "after / before (CPU)"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    timed = [r for r in report["rows"] if not r["key"].startswith("callgrind")]
    for r in timed:
        throughput = r["target"].startswith(">=")
        native = r.get("native")
        cells = [
            r["workload"],
            _cell(r, r["subject"]),
            f"{r['baseline_label']}: {_cell(r, r['reference'])}",
            _x(r["ratio"], throughput),
            r["target"],
            _verdict(r["pass"]),
            _x(r["ratio_wall"], throughput),
            f"{native} {_cell(r, native)}" if native else "",
            _x(r.get("dicomsel_over_native"), digits=1) if native else "",
        ]
        c = r.get("compare")  # the machine's ceiling is measured once, for no tree
        if compare and c is None:
            cells += ["", "", "", ""]
        elif compare:
            cells += [
                _cell(r, c["subject"]),
                _x(c["ratio"], throughput),
                _verdict(c["pass"]),
                _x(c["after_over_before_cpu"]),
            ]
        lines.append("| " + " | ".join(cells) + " |")
    grind = [r for r in report["rows"] if r["key"].startswith("callgrind")]
    if grind:
        head = ["workload", "dicomsel", "baseline", "ratio", "target", "verdict"]
        if compare:
            head += ["before", "before ratio", "before verdict", "after / before"]
        lines += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in grind:
            cells = [
                r["workload"],
                _cell(r, r["subject"]),
                f"{r['baseline_label']}: {_cell(r, r['reference'])}",
                _x(r["ratio"]),
                r["target"],
                _verdict(r["pass"]),
            ]
            if compare:
                c = r["compare"]
                cells += [
                    _cell(r, c["subject"]),
                    _x(c["ratio"]),
                    _verdict(c["pass"]),
                    _x(c["after_over_before_instructions"]),
                ]
            lines.append("| " + " | ".join(cells) + " |")
        lines += ["", "Instructions: the `totals:` line of `valgrind --tool=callgrind`, G = 10^9."]
    return "\n".join(lines) + "\n"


def _errors(report: dict[str, Any]) -> list[str]:
    """The failures of dicomsel and baseline commands (not of the native tools, nor valgrind's
    absence)."""
    out = []
    for r in report["rows"]:
        for name, m in r["measures"].items():
            err = m.get("error")
            if err and name != r.get("native") and err != "valgrind not installed":
                out.append(f"{r['key']}: {name}: {err}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny inputs, 1 run, no warm-up")
    parser.add_argument("--runs", type=int, help="timed runs of each command (default 5; quick 1)")
    parser.add_argument("--warmup", type=int, help="warm-up runs (default 1; quick 0)")
    parser.add_argument("--big-runs", type=int, default=1, help="runs of the 100k KOS row")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write every number here")
    parser.add_argument(
        "--compare", metavar="PATH_OR_REV", help="also measure this tree's dicomsel"
    )
    parser.add_argument("--rows", nargs="+", choices=ROWS, default=list(ROWS), help="rows to run")
    parser.add_argument("--no-callgrind", action="store_true", help="leave out the callgrind rows")
    parser.add_argument("--callgrind-kos-refs", type=int, help="KOS size under callgrind")
    parser.add_argument("--callgrind-sr-groups", type=int, help="SR size under callgrind")
    parser.add_argument(
        "--render", type=Path, metavar="FILE", help="print the table of a saved --json report"
    )
    a = parser.parse_args(argv)
    if a.render is not None:
        sys.stdout.write(render(json.loads(a.render.read_text(encoding="utf-8"))))
        return 0
    a.sizes = QUICK if a.quick else FULL
    a.runs = a.runs if a.runs is not None else 1 if a.quick else 5
    a.warmup = a.warmup if a.warmup is not None else 0 if a.quick else 1
    a.cg_kos_refs = a.callgrind_kos_refs or a.sizes.kos_refs
    a.cg_sr_groups = a.callgrind_sr_groups or a.sizes.sr_groups
    if a.runs < 1 or a.warmup < 0 or a.big_runs < 1:
        parser.error("--runs and --big-runs must be at least 1, --warmup at least 0")
    rows = [r for r in a.rows if not (a.no_callgrind and r == "callgrind")]

    this = Tree("dicomsel", REPO / "src", _commit(REPO))
    meta: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "mode": "quick" if a.quick else "full",
        "sizes": asdict(a.sizes)
        | {"callgrind_kos_refs": a.cg_kos_refs, "callgrind_sr_groups": a.cg_sr_groups},
        "runs": a.runs,
        "warmup": a.warmup,
        "big_runs": a.big_runs,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "commit": this.commit,
        "load_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    with _trees(this, a.compare) as trees:
        if len(trees) > 1:
            meta["compare"] = {
                "spec": a.compare,
                "label": trees[1].label,
                "commit": trees[1].commit,
                "src": str(trees[1].src),
            }
        for tree in trees:
            compile_tree(tree.src)
        report: dict[str, Any] = {"meta": meta, "rows": []}
        with tempfile.TemporaryDirectory(prefix="bench_all_") as tmp:
            for key in rows:
                report["rows"] += ROW_FUNCTIONS[key](a, Path(tmp), trees)
    meta["load_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    meta["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    sys.stdout.write(render(report))
    errors = _errors(report)
    for e in errors:
        _say(e.splitlines()[0])
    return 1 if errors else 0


@contextmanager
def _trees(this: Tree, compare: str | None) -> Iterator[list[Tree]]:
    if compare is None:
        yield [this]
        return
    with compare_tree(compare) as other:
        yield [this, other]


if __name__ == "__main__":
    raise SystemExit(main())
