"""A structured DICOM mutator: every mutant must convert, or fail with a typed error.

``make fuzz`` runs it over every file of ``../shared/realdata`` and ``sample_dicom/``
(read in place, never copied): 100,000 mutants by default, from a fixed seed.
Mutant ``i`` of seed ``s`` is fully determined by ``(s, i)`` and the sorted file
list; its *spec* (a JSON-able dict: the source file's name and the operation with
its offsets and values) regenerates it from the source file alone, which is how
``tests/fuzz_regressions.py`` keeps every finding.

Mutations (``KINDS``): byte flips, truncation (at random points and at element
boundaries), huge declared lengths, VR swaps, removed delimiters, garbage and
non-ASCII UIDs, bad numbers/dates in text values (``inf``, ``nan``, ...), deep
nesting, an item repeated many times.

Each mutant is written to a temporary file and converted in-process with
``dicomsel.read_file`` and the R5 writer (plus Observations and serialisation).
Allowed outcomes: ``converted``, ``warning`` (converted with issues or Python
warnings) and ``error`` (a :class:`dicomsel.DicomselError`). Anything else is a
finding: another exception (``untyped``), a run past the time limit (``hang``),
or a worker that died (``crash``). In the default (process) mode each worker
runs under an address-space limit (``RLIMIT_AS``) and the parent kills a worker
that passes the per-mutant time limit; ``--in-process`` uses ``signal.alarm``
instead (the pytest smoke run).

Usage::

    python tools/fuzz.py [-n 100000] [--seed 10] [--timeout 10] [--jobs N] [--in-process]
    python tools/fuzz.py --show SEED INDEX      # print the spec of one mutant
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import random
import signal
import struct
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parent.parent
REALDATA = Path(os.environ.get("DICOMSEL_REALDATA", ROOT.parent / "shared" / "realdata"))
SAMPLES = ROOT / "sample_dicom"

#: the outcomes a mutant may have; anything else is a finding
ALLOWED = ("converted", "warning", "error")
FINDINGS = ("untyped", "malformed", "hang", "crash")

UNDEFINED = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT"}
_LONG_VRS.add(b"UV")
_TEXT_VRS = {b"IS", b"DS", b"DA", b"TM", b"DT", b"UI", b"LO", b"SH", b"CS", b"PN", b"US"}
_ALL_VRS = [
    b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"OB",
    b"OD", b"OF", b"OL", b"OW", b"OV", b"PN", b"SH", b"SL", b"SQ", b"SS", b"ST", b"SV", b"TM",
    b"UC", b"UI", b"UL", b"UN", b"UR", b"US", b"UT", b"UV", b"ZZ", b"\x00\x00", b"ab",
]  # fmt: skip
_GARBAGE_TEXT = [
    b"inf", b"-inf", b"nan", b"NaN", b"1e400", b"-1e400", b"99999999999999999999",
    b"2024-13-45", b"20241345", b"99999999", b"256060", b"-", b"+", b"1\\2\\", b"\\\\\\",
    b"\xff\xfe\xfd", b"\xc3\xa9t\xc3\xa9", b"\x00\x0b\x1b", b"\xef\xbf\xbe", b"1.2.3..4",
    b"1.2.abc", b".1.2", b"1.02.3", b"\xe9\xe9\xe9", b"0x1F", b"1,5", b"  ", b"*",
]  # fmt: skip


@dataclass(slots=True)
class Element:
    """One element header found by :func:`walk` in a source file."""

    hdr: int  # offset of the tag
    tag: int
    vr: bytes | None  # None: implicit VR
    len_off: int  # offset of the length field
    len_size: int  # 2 or 4
    val: int  # offset of the value
    length: int  # declared length (UNDEFINED too)
    end: int  # offset after the value (and its delimiter)
    depth: int
    parents: tuple[tuple[int, int], ...]  # (len_off, len_size) of defined-length containers


@dataclass(slots=True)
class Layout:
    """What :func:`walk` found in a source file."""

    explicit: bool = True
    little: bool = True
    deflated: bool = False
    elements: list[Element] = field(default_factory=list)  # items and delimiters included


def _sq_tag(tag: int) -> bool:
    try:
        from pydicom.datadict import dictionary_VR

        return bool(dictionary_VR(tag) == "SQ")
    except KeyError:
        return False


def walk(data: bytes) -> Layout:
    """Element headers of a (well-formed) Part 10 file, nested ones included."""
    out = Layout()
    pos = 132 if data[128:132] == b"DICM" else 0
    # file meta: explicit VR little endian
    ts = b""
    while pos + 8 <= len(data) and data[pos : pos + 2] == b"\x02\x00":
        e = _header(data, pos, True, True, 0, ())
        if e is None:
            break
        out.elements.append(e)
        if e.tag == 0x00020010:
            ts = data[e.val : e.val + e.length].rstrip(b"\x00 ")
        pos = e.val + e.length
    out.explicit = ts != b"1.2.840.10008.1.2"
    out.little = ts != b"1.2.840.10008.1.2.2"
    out.deflated = ts in (b"1.2.840.10008.1.2.1.99", b"1.2.840.10008.1.2.8.1")
    if out.deflated or not out.little:
        return out
    with contextlib.suppress(struct.error, IndexError, ValueError):
        _walk_items(data, pos, len(data), out, 0, (), top=True)
    return out


def _header(
    data: bytes, pos: int, explicit: bool, little: bool, depth: int, parents: tuple[Any, ...]
) -> Element | None:
    if pos + 8 > len(data):
        return None
    group, elem = struct.unpack_from("<HH", data, pos)
    tag = group << 16 | elem
    if group == 0xFFFE or not explicit:
        (length,) = struct.unpack_from("<I", data, pos + 4)
        return Element(pos, tag, None, pos + 4, 4, pos + 8, length, 0, depth, parents)
    vr = data[pos + 4 : pos + 6]
    if vr in _LONG_VRS:
        if pos + 12 > len(data):
            return None
        (length,) = struct.unpack_from("<I", data, pos + 8)
        return Element(pos, tag, vr, pos + 8, 4, pos + 12, length, 0, depth, parents)
    if not vr.isalpha():
        return None
    (length,) = struct.unpack_from("<H", data, pos + 6)
    return Element(pos, tag, vr, pos + 6, 2, pos + 8, length, 0, depth, parents)


def _walk_items(
    data: bytes,
    pos: int,
    end: int | None,
    out: Layout,
    depth: int,
    parents: tuple[Any, ...],
    top: bool = False,
) -> int:
    """Walk the elements of a dataset or item until ``end`` or its delimiter; return the end."""
    while end is None or pos < end:
        e = _header(data, pos, out.explicit, out.little, depth, parents)
        if e is None:
            return pos
        out.elements.append(e)
        if e.tag == _ITEM_END and end is None:
            e.end = e.val
            return e.val
        if top and e.tag >> 16 == 0x7FE0:
            e.end = len(data)
            return len(data)
        is_sq = e.vr == b"SQ" or (e.vr is None and (e.length == UNDEFINED or _sq_tag(e.tag)))
        if is_sq:
            e.end = _walk_sequence(data, e, out, depth)
        elif e.length == UNDEFINED:
            return pos  # encapsulated or UN: stop here
        else:
            e.end = e.val + e.length
        pos = e.end
    return pos


def _walk_sequence(data: bytes, sq: Element, out: Layout, depth: int) -> int:
    defined = sq.length != UNDEFINED
    parents = (*sq.parents, (sq.len_off, sq.len_size)) if defined else sq.parents
    pos, end = sq.val, (sq.val + sq.length if defined else None)
    while end is None or pos < end:
        it = _header(data, pos, False, True, depth + 1, parents)
        if it is None:
            return pos
        out.elements.append(it)
        if it.tag == _SEQ_END:
            it.end = it.val
            return it.val
        if it.tag != _ITEM:
            return pos
        inner = (*parents, (it.len_off, 4)) if it.length != UNDEFINED else parents
        item_end = None if it.length == UNDEFINED else it.val + it.length
        it.end = _walk_items(data, it.val, item_end, out, depth + 1, inner)
        pos = it.end
    return pos


# ---- mutations: choose a spec from the layout, apply a spec to the bytes


def _put_len(buf: bytearray, off: int, size: int, delta: int) -> None:
    fmt = "<H" if size == 2 else "<I"
    (old,) = struct.unpack_from(fmt, buf, off)
    if old == UNDEFINED:
        return
    struct.pack_into(fmt, buf, off, (old + delta) % (1 << (8 * size)))


def _nest(depth: int, explicit: bool) -> bytes:
    sq = b"\x40\x00\x30\xa7" + (b"SQ\x00\x00" if explicit else b"") + b"\xff\xff\xff\xff"
    item = b"\xfe\xff\x00\xe0\xff\xff\xff\xff"
    close = b"\xfe\xff\x0d\xe0\x00\x00\x00\x00\xfe\xff\xdd\xe0\x00\x00\x00\x00"
    return (sq + item) * depth + close * depth


def apply(data: bytes, spec: dict[str, Any]) -> bytes:
    """The mutant a spec describes, from its source file's bytes."""
    op = spec["op"]
    buf = bytearray(data)
    if op == "set":
        new = bytes.fromhex(spec["hex"])
        buf[spec["at"] : spec["at"] + len(new)] = new
        return bytes(buf)
    if op == "cut":
        return bytes(buf[: spec["at"]])
    if op == "delete":
        at, n = spec["at"], spec["n"]
        for off, size in spec.get("fix", ()):
            _put_len(buf, off, size, -n)
        del buf[at : at + n]
        return bytes(buf)
    if op == "replace":
        at, n, new = spec["at"], spec["n"], bytes.fromhex(spec["hex"])
        delta = len(new) - n
        for off, size in spec.get("fix", ()):
            _put_len(buf, off, size, delta)
        buf[at : at + n] = new
        return bytes(buf)
    if op in ("nest", "repeat"):
        if op == "nest":
            new = _nest(spec["depth"], spec["explicit"])
        else:
            new = data[spec["start"] : spec["end"]] * spec["times"]
        for off, size in spec.get("fix", ()):
            _put_len(buf, off, size, len(new))
        buf[spec["at"] : spec["at"]] = new
        return bytes(buf)
    raise ValueError(f"unknown op {op!r}")


def _flip(data: bytes, lay: Layout, rng: random.Random) -> dict[str, Any]:
    at = rng.randrange(len(data))
    n = min(rng.choice((1, 1, 2, 4, 8)), len(data) - at)
    if rng.random() < 0.5:
        new = bytes(b ^ (1 << rng.randrange(8)) for b in data[at : at + n])
    else:
        new = bytes(rng.randrange(256) for _ in range(n))
    return {"op": "set", "at": at, "hex": new.hex()}


def _truncate(data: bytes, lay: Layout, rng: random.Random) -> dict[str, Any]:
    if lay.elements and rng.random() < 0.5:
        e = rng.choice(lay.elements)
        at = rng.choice((e.hdr, e.val, e.end, e.val + max(0, min(e.length, e.end - e.val)) // 2))
        return {"op": "cut", "at": max(1, min(at, len(data) - 1))}
    return {"op": "cut", "at": rng.randrange(1, len(data))}


def _huge_length(data: bytes, lay: Layout, rng: random.Random) -> dict[str, Any]:
    if not lay.elements:
        return _flip(data, lay, rng)
    e = rng.choice(lay.elements)
    if e.len_size == 2:
        value = rng.choice((0xFFFF, 0xFFFE, 0x8000))
        return {"op": "set", "at": e.len_off, "hex": struct.pack("<H", value).hex()}
    value = rng.choice(
        (0xFFFFFFFE, 0xFFFFFFF0, 0x7FFFFFFF, 0x80000000, len(data) * 2, 0x40000000, 0xFFFFFFFF)
    )
    return {"op": "set", "at": e.len_off, "hex": struct.pack("<I", value).hex()}


def _vr_swap(data: bytes, lay: Layout, rng: random.Random) -> dict[str, Any]:
    explicit = [e for e in lay.elements if e.vr is not None]
    if not explicit:
        return _flip(data, lay, rng)
    e = rng.choice(explicit)
    return {"op": "set", "at": e.hdr + 4, "hex": rng.choice(_ALL_VRS).hex()}


def _remove_delimiter(data: bytes, lay: Layout, rng: random.Random) -> dict[str, Any]:
    delims = [e for e in lay.elements if e.tag in (_ITEM_END, _SEQ_END)]
    if not delims:
        return _truncate(data, lay, rng)
    e = rng.choice(delims)
    return {"op": "delete", "at": e.hdr, "n": 8, "fix": [list(p) for p in e.parents]}


def _garbage_value(data: bytes, lay: Layout, rng: random.Random) -> dict[str, Any]:
    cands = [e for e in lay.elements if e.vr in _TEXT_VRS and e.length != UNDEFINED]
    if lay.elements and not lay.explicit:
        cands = [e for e in lay.elements if e.length < 80 and e.tag >> 16 != 0xFFFE]
    if not cands:
        return _flip(data, lay, rng)
    uids = [e for e in cands if e.vr == b"UI"]
    e = rng.choice(uids if uids and rng.random() < 0.5 else cands)
    new = rng.choice(_GARBAGE_TEXT)
    if rng.random() < 0.3:
        new = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 70)))
    if len(new) % 2:
        new += b" "
    if e.len_size == 2 and len(new) > 0xFFFF:
        new = new[:0xFFFE]
    fix = [[e.len_off, e.len_size], *[list(p) for p in e.parents]]
    return {"op": "replace", "at": e.val, "n": e.length, "hex": new.hex(), "fix": fix}


def _items(lay: Layout) -> list[Element]:
    return [e for e in lay.elements if e.tag == _ITEM and e.end > e.val]


def _deep_nesting(data: bytes, lay: Layout, rng: random.Random) -> dict[str, Any]:
    items = _items(lay)
    depth = rng.choice((50, 300, 1000, 3000, 12_000))
    if not items:
        top = [e for e in lay.elements if e.depth == 0 and e.tag >> 16 != 2]
        if not top:
            return _flip(data, lay, rng)
        at = rng.choice(top).hdr
        return {"op": "nest", "at": at, "depth": depth, "explicit": lay.explicit, "fix": []}
    it = rng.choice(items)
    at = it.end if it.length != UNDEFINED else it.end - 8  # before its delimiter
    fix = [list(p) for p in it.parents]
    if it.length != UNDEFINED:
        fix.append([it.len_off, 4])
    return {"op": "nest", "at": at, "depth": depth, "explicit": lay.explicit, "fix": fix}


def _repeat_item(data: bytes, lay: Layout, rng: random.Random) -> dict[str, Any]:
    items = _items(lay)
    if not items:
        return _flip(data, lay, rng)
    it = rng.choice(items)
    times = rng.choice((2, 100, 1000, 5000, 20_000))
    if (it.end - it.hdr) * times > 64 * 1024 * 1024:
        times = max(2, 64 * 1024 * 1024 // (it.end - it.hdr))
    fix = [list(p) for p in it.parents]
    spec = {"op": "repeat", "start": it.hdr, "end": it.end, "at": it.end, "times": times}
    return {**spec, "fix": fix}


Mutator = Callable[[bytes, Layout, random.Random], dict[str, Any]]
KINDS: dict[str, tuple[int, Mutator]] = {
    "flip": (20, _flip),
    "truncate": (15, _truncate),
    "huge_length": (15, _huge_length),
    "vr_swap": (10, _vr_swap),
    "remove_delimiter": (8, _remove_delimiter),
    "garbage_value": (20, _garbage_value),
    "deep_nesting": (4, _deep_nesting),
    "repeat_item": (2, _repeat_item),
}


# ---- the corpus and the mutants


def corpus_files() -> list[Path]:
    """Every DICOM file of ../shared/realdata (when present) and sample_dicom/, sorted."""
    files = sorted(SAMPLES.glob("*.dcm"))
    if REALDATA.is_dir():
        files = sorted(p for p in REALDATA.rglob("*.dcm") if p.is_file()) + files
    return files


def source_name(path: Path) -> str:
    """How a spec names its source: ``realdata/...`` or ``sample_dicom/...``."""
    if path.is_relative_to(REALDATA):
        return "realdata/" + path.relative_to(REALDATA).as_posix()
    return "sample_dicom/" + path.relative_to(SAMPLES).as_posix()


def source_path(name: str) -> Path:
    """The file a spec's ``source`` names."""
    base, _, rest = name.partition("/")
    return (REALDATA if base == "realdata" else SAMPLES) / rest


class Corpus:
    """The source files, their bytes and layouts (each read once)."""

    def __init__(
        self,
        files: Sequence[Path] | None = None,
        max_bytes: int | None = None,
        max_repeat: int | None = None,
    ) -> None:
        """``max_bytes`` leaves out larger source files and ``max_repeat`` caps an item's
        repetitions: the quick profile of the pytest smoke run (``make fuzz`` has neither)."""
        files = list(files if files is not None else corpus_files())
        if max_bytes is not None:
            files = [f for f in files if f.stat().st_size <= max_bytes]
        self.files = files
        self.max_repeat = max_repeat
        if not self.files:
            raise SystemExit("fuzz: no DICOM files in sample_dicom/ or ../shared/realdata")
        self._cache: dict[str, tuple[bytes, Layout]] = {}

    def load(self, name: str) -> tuple[bytes, Layout]:
        hit = self._cache.get(name)
        if hit is None:
            data = source_path(name).read_bytes()
            hit = self._cache[name] = (data, walk(data))
        return hit

    def spec(self, seed: int, index: int) -> dict[str, Any]:
        """The spec of mutant ``index`` of ``seed``."""
        rng = random.Random(f"dicomsel-fuzz/{seed}/{index}")
        name = source_name(rng.choice(self.files))
        data, lay = self.load(name)
        names = list(KINDS)
        kind = rng.choices(names, weights=[KINDS[k][0] for k in names])[0]
        spec = KINDS[kind][1](data, lay, rng)
        if spec["op"] == "repeat" and self.max_repeat is not None:
            spec["times"] = min(spec["times"], self.max_repeat)
        return {"source": name, "kind": kind, **spec}

    def mutant(self, spec: dict[str, Any]) -> bytes:
        return apply(self.load(spec["source"])[0], spec)


# ---- converting one mutant


@dataclass(slots=True)
class Result:
    outcome: str  # converted | warning | error | untyped | hang | crash
    detail: str = ""


class _Timeout(BaseException):
    """Raised by the alarm in in-process mode."""


def convert_file(path: str) -> Result:
    """Convert one file in-process as ``dicomsel convert`` does; classify the outcome."""
    from dicomsel import fhir
    from dicomsel.dicom import read_file
    from dicomsel.errors import DicomselError
    from dicomsel.fhir import observation
    from dicomsel.fhir.xml import serialise_xml

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = read_file(path)
            writer = fhir.flavour("r5")
            out = writer.write(result.selections)
            for res in out.resources + list(out.shared.values()):
                writer.validate(res)
            resources = list(out.resources)
            if result.observations:
                obs = observation.write(result.observations, out.refs)
                for res in obs.resources:
                    observation.validate(res)
                resources += obs.resources
            everything = resources + list(out.shared.values())
            fhir.serialise(everything, "bundle")
            xml_text = serialise_xml(everything, "bundle", "r5")
        except DicomselError as e:
            return Result("error", f"{type(e).__name__}: {e}"[:300])
        except _Timeout:
            raise
        except Exception as e:  # the finding
            frames = traceback.extract_tb(e.__traceback__)
            where = " <- ".join(f"{Path(f.filename).name}:{f.lineno}" for f in frames[-1:-4:-1])
            return Result("untyped", f"{type(e).__name__}: {str(e)[:200]} [{where}]")
    try:  # the XML output must always be well-formed
        ElementTree.fromstring(xml_text.encode("utf-8"))
    except ElementTree.ParseError as e:
        return Result("malformed", f"XML output does not parse: {e}")
    if result.issues or caught or out.warnings:
        return Result("warning")
    return Result("converted")


def _run_in_process(corpus: Corpus, seed: int, index: int, timeout: float, tmp: str) -> Result:
    spec = corpus.spec(seed, index)
    path = os.path.join(tmp, f"mutant-{index}.dcm")
    with open(path, "wb") as f:
        f.write(corpus.mutant(spec))

    def alarm(signum: int, frame: Any) -> None:
        raise _Timeout

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        return convert_file(path)
    except _Timeout:
        return Result("hang", f"over {timeout:g} s")
    except RecursionError as e:  # from outside the readers' own guard
        return Result("untyped", f"RecursionError: {e}")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        os.unlink(path)


def _worker(conn: Any, seed: int, memory: int, files: list[str]) -> None:
    import resource

    if memory:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    corpus = Corpus([Path(f) for f in files])
    with tempfile.TemporaryDirectory(prefix="dicomsel-fuzz-") as tmp:
        while True:
            index = conn.recv()
            if index is None:
                return
            try:
                res = _run_in_process(corpus, seed, index, 1e9, tmp)
            except MemoryError:
                res = Result("untyped", "MemoryError (outside the reader)")
            conn.send((index, res.outcome, res.detail))


def run_in_process(
    seed: int, count: int, timeout: float, corpus: Corpus | None = None, start: int = 0
) -> Iterator[tuple[int, Result]]:
    """Convert mutants ``start .. start+count-1`` in this process (``signal.alarm`` limits)."""
    corpus = corpus or Corpus()
    with tempfile.TemporaryDirectory(prefix="dicomsel-fuzz-") as tmp:
        for index in range(start, start + count):
            yield index, _run_in_process(corpus, seed, index, timeout, tmp)


def run_processes(
    seed: int, count: int, timeout: float, jobs: int, memory: int, start: int = 0
) -> Iterator[tuple[int, Result]]:
    """Convert mutants in ``jobs`` worker processes; kill and replace one past ``timeout``."""
    ctx = multiprocessing.get_context("fork")
    files = [str(p) for p in corpus_files()]
    todo = iter(range(start, start + count))
    workers: list[dict[str, Any]] = []

    def spawn() -> dict[str, Any]:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_worker, args=(child, seed, memory, files), daemon=True)
        proc.start()
        child.close()
        return {"proc": proc, "conn": parent, "index": None, "since": 0.0}

    def feed(w: dict[str, Any]) -> bool:
        index = next(todo, None)
        w["index"], w["since"] = index, time.monotonic()
        if index is None:
            return False
        w["conn"].send(index)
        return True

    for _ in range(jobs):
        w = spawn()
        if feed(w):
            workers.append(w)
    from multiprocessing.connection import wait

    while workers:
        ready = wait([w["conn"] for w in workers], timeout=0.5)
        now = time.monotonic()
        for w in list(workers):
            index = w["index"]
            if w["conn"] in ready:
                try:
                    i, outcome, detail = w["conn"].recv()
                except (EOFError, OSError):
                    w["proc"].join(5)
                    code = w["proc"].exitcode
                    yield index, Result("crash", f"worker died (exit code {code})")
                    workers.remove(w)
                    new = spawn()
                    if feed(new):
                        workers.append(new)
                    continue
                yield i, Result(outcome, detail)
            elif now - w["since"] > timeout:
                w["proc"].kill()
                w["proc"].join()
                yield index, Result("hang", f"over {timeout:g} s")
                workers.remove(w)
                new = spawn()
                if feed(new):
                    workers.append(new)
                continue
            else:
                continue
            if not feed(w):
                w["conn"].send(None)
                workers.remove(w)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", "--count", type=int, default=100_000, help="mutants (100,000)")
    p.add_argument("--seed", type=int, default=10, help="seed (10)")
    p.add_argument("--start", type=int, default=0, help="first mutant index (0)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per mutant (10)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes")
    p.add_argument("--memory", type=int, default=2 << 30, help="RLIMIT_AS per worker (2 GiB)")
    p.add_argument("--in-process", action="store_true", help="no workers: signal.alarm only")
    p.add_argument(
        "--max-seconds", type=float, default=0, help="stop starting mutants after this (0: never)"
    )
    p.add_argument("--show", nargs=2, type=int, metavar=("SEED", "INDEX"), help="print a spec")
    p.add_argument("--json", action="store_true", help="findings as JSON lines on stdout")
    args = p.parse_args(argv)
    if args.show:
        spec = Corpus().spec(*args.show)
        print(json.dumps(spec))
        return 0
    begin = time.monotonic()
    counts: Counter[str] = Counter()
    findings: list[tuple[int, Result]] = []
    if args.in_process:
        results = run_in_process(args.seed, args.count, args.timeout, start=args.start)
    else:
        results = run_processes(
            args.seed, args.count, args.timeout, args.jobs, args.memory, start=args.start
        )
    corpus = Corpus()
    kinds: Counter[str] = Counter()
    done = 0
    for done, (index, res) in enumerate(results, 1):
        counts[res.outcome] += 1
        if res.outcome in FINDINGS:
            findings.append((index, res))
            kinds[corpus.spec(args.seed, index)["kind"]] += 1
        if done % 5000 == 0:
            rate = done / (time.monotonic() - begin)
            print(f"fuzz: {done}/{args.count} ({rate:.0f}/s) {dict(counts)}", file=sys.stderr)
        if args.max_seconds and time.monotonic() - begin > args.max_seconds:
            break
    elapsed = time.monotonic() - begin
    last = args.start + done - 1
    rate = done / elapsed
    print(f"fuzz: seed {args.seed}, mutants {args.start}..{last} ({done} of {args.count} asked),"
          f" {len(corpus.files)} files")  # fmt: skip
    print(f"  time {elapsed:.0f} s ({rate:.1f} mutants/s)")
    for outcome in (*ALLOWED, *FINDINGS):
        print(f"  {outcome:10} {counts[outcome]}")
    for index, res in sorted(findings):
        spec = corpus.spec(args.seed, index)
        if args.json:
            print(json.dumps({"seed": args.seed, "index": index, "outcome": res.outcome,
                              "detail": res.detail, "spec": _short(spec)}))  # fmt: skip
        else:
            print(f"FINDING seed={args.seed} index={index} {res.outcome}: {res.detail}")
            print(f"  {json.dumps(_short(spec))}")
    return 1 if findings else 0


def _short(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec, with long hex values cut for the summary (regenerate with --show)."""
    return {k: (v[:64] + "..." if k == "hex" and len(v) > 64 else v) for k, v in spec.items()}


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    raise SystemExit(main())
