"""``--executor dask`` (issue 12): the same bytes as ``--executor local``, on a LocalCluster.

A LocalCluster of two worker processes is started once for the module; the CLI
joins it with ``--scheduler``. Expected outputs come from ``--executor local``
(itself checked against the standard and independent readers elsewhere), so
what is tested here is that the cluster changes nothing: order, logs, a lost
worker, a killed driver.
"""

from __future__ import annotations

import builtins
import functools
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT, SAMPLES, realdata
from test_export import _CLI, _by_ref, _convert, _images, _kos, _lines

try:
    import distributed
except ImportError:  # CI installs the test extra, which holds dask[distributed]
    if os.environ.get("CI"):
        raise
    pytest.skip(
        "dask.distributed is not installed: pip install 'dicomsel[dask]'", allow_module_level=True
    )

TESTS = Path(__file__).resolve().parent
#: the workers import this module's task functions and dicomsel from here
_PYTHONPATH = os.pathsep.join([str(ROOT / "src"), str(TESTS)])
_ENV = {**os.environ, "PYTHONPATH": _PYTHONPATH}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A LocalCluster of two single-threaded worker processes on loopback, for the module."""
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        worker_dashboard_address=None,
        # no dashboard; its HTTP server (health checks) on a free loopback port, not 8787
        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
        env={"PYTHONPATH": _PYTHONPATH},
    ) as c:
        yield c


@pytest.fixture(scope="module")
def client(cluster: Any) -> Iterator[Any]:
    with distributed.Client(cluster, set_as_default=False) as c:
        yield c


def _cli(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [*_CLI, *map(str, argv)], env=_ENV, capture_output=True, text=True, check=False
    )
    assert proc.returncode in (0, 3), proc.stderr
    return proc


def _logs(stderr: str) -> list[str]:
    """The log lines, without the summary's elapsed time."""
    return [line.rsplit(" in ", 1)[0] for line in stderr.splitlines()]


@pytest.mark.parametrize("fmt", ["ndjson", "bundle"])
@pytest.mark.parametrize("which", ["realdata", "samples"])
def test_convert_on_dask_is_convert(tmp_path: Path, cluster: Any, which: str, fmt: str) -> None:
    """The same bytes and the same log lines from the cluster as from this machine."""
    src = realdata("") if which == "realdata" else SAMPLES
    common = ("convert", src, "--format", fmt, "--timezone", "+00:00")
    local = _cli(*common, "-o", tmp_path / "local", "--jobs", "2")
    dask = _cli(
        *common, "-o", tmp_path / "dask", "--executor", "dask",
        "--scheduler", cluster.scheduler_address,
    )  # fmt: skip
    expected = (tmp_path / "local").read_bytes()
    assert expected.count(b'"resourceType"') > 10
    assert (tmp_path / "dask").read_bytes() == expected
    assert _logs(dask.stderr) == _logs(local.stderr)


def test_convert_on_its_own_local_cluster(tmp_path: Path) -> None:
    """Without --scheduler: a LocalCluster of --jobs workers, started and closed by the run."""
    src = realdata("")
    common = ("convert", src, "--format", "ndjson", "--timezone", "+00:00")
    _cli(*common, "-o", tmp_path / "local")
    _cli(*common, "-o", tmp_path / "dask", "--executor", "dask", "--jobs", "2")
    assert (tmp_path / "dask").read_bytes() == (tmp_path / "local").read_bytes()


def test_export_with_state_on_dask(tmp_path: Path, cluster: Any) -> None:
    src = tmp_path / "in"
    _kos(src, 30)
    _images(src, 0, 120, series=3)
    expected = _convert(src, tmp_path / "c.ndjson")
    for executor in ("local", "dask"):
        out, state = tmp_path / f"{executor}.ndjson", tmp_path / f"{executor}.sqlite"
        _cli(
            "export", "--source", src, "--sink", f"ndjson:{out}", "--state", state,
            "--timezone", "+00:00", "--executor", executor,
            *(("--scheduler", cluster.scheduler_address) if executor == "dask" else ()),
        )  # fmt: skip
        assert _lines(out) == expected, executor
    # a second run on the cluster finds everything done: nothing written
    before = (tmp_path / "dask.ndjson").read_bytes()
    again = _cli(
        "export", "--source", src, "--sink", f"ndjson:{tmp_path / 'dask.ndjson'}",
        "--state", tmp_path / "dask.sqlite", "--timezone", "+00:00",
        "--executor", "dask", "--scheduler", cluster.scheduler_address,
    )  # fmt: skip
    assert "0 instance(s) to export, 150 done by an earlier run" in again.stderr
    assert (tmp_path / "dask.ndjson").read_bytes() == before


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_a_worker_killed_mid_run_loses_nothing(tmp_path: Path, cluster: Any, client: Any) -> None:
    """SIGKILL of a worker busy with a task: Dask runs it again, the driver writes it once."""
    src = tmp_path / "in"
    _kos(src, 200)
    _images(src, 0, 400, series=8)
    expected = _convert(src, tmp_path / "c.ndjson")
    pids = client.run(os.getpid)
    killed: dict[str, Any] = {}

    def kill_a_busy_worker() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            busy = {w: keys for w, keys in client.processing().items() if keys}
            for worker, keys in busy.items():
                if any(str(k).startswith("_run_task") for k in keys) and worker in pids:
                    killed.update(worker=worker, pid=pids[worker], tasks=len(keys))
                    os.kill(pids[worker], signal.SIGKILL)
                    return
            time.sleep(0.05)

    watcher = threading.Thread(target=kill_a_busy_worker)
    out = tmp_path / "dask.ndjson"
    argv = [
        *_CLI, "convert", str(src), "--format", "ndjson", "-o", str(out), "--timezone",
        "+00:00", "--executor", "dask", "--scheduler", cluster.scheduler_address,
    ]  # fmt: skip
    proc = subprocess.Popen(argv, env=_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    watcher.start()
    _, err = proc.communicate(timeout=600)
    watcher.join()
    assert proc.returncode == 0, err.decode()
    assert killed, "no worker was seen busy: the run ended first"
    assert not _alive(killed["pid"])
    assert proc.returncode == 0
    lines = _lines(out)
    assert all(len(v) == 1 for v in _by_ref(lines).values()), "a resource written twice"
    assert lines == expected
    client.wait_for_workers(2, timeout=60)  # the nanny restarted it, for the next tests


@pytest.mark.slow
def test_the_driver_killed_then_run_again_writes_every_resource_once(
    tmp_path: Path, cluster: Any
) -> None:
    """kill -9 of an export with --state on the cluster, then the same command again."""
    src = tmp_path / "in"
    _kos(src, 300)
    _images(src, 0, 500, series=8)
    expected = _convert(src, tmp_path / "c.ndjson")
    out, state = tmp_path / "o.ndjson", tmp_path / "s.sqlite"
    argv = [
        *_CLI, "export", "--source", str(src), "--sink", f"ndjson:{out}", "--state",
        str(state), "--timezone", "+00:00", "--executor", "dask",
        "--scheduler", cluster.scheduler_address,
    ]  # fmt: skip
    proc = subprocess.Popen(
        argv, env=_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    recorded = 0
    deadline = time.monotonic() + 300
    while proc.poll() is None and not recorded and time.monotonic() < deadline:
        time.sleep(0.1)
        try:
            with sqlite3.connect(f"file:{state}?mode=ro", uri=True) as db:
                recorded = db.execute("SELECT count(*) FROM item").fetchone()[0]
        except sqlite3.Error:  # not created yet
            continue
    assert proc.poll() is None, "the export ended before the kill: make the input bigger"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 0 < recorded < 800
    done = subprocess.run(argv, env=_ENV, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "done by an earlier run" in done.stderr
    lines = _lines(out)
    assert all(len(v) == 1 for v in _by_ref(lines).values()), "a resource written twice"
    assert sorted(lines) == sorted(expected)


def test_without_dask_the_executor_is_a_usage_error(
    run_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_import = builtins.__import__

    def no_dask(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.split(".")[0] in ("dask", "distributed"):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    code, _, err = run_cli("convert", SAMPLES, "-o", tmp_path / "o.json", "--executor", "dask")
    assert code == 2
    assert "pip install 'dicomsel[dask]'" in err
    assert not (tmp_path / "o.json").exists()
    code, _, err = run_cli(
        "export", "--source", SAMPLES, "--sink", f"ndjson:{tmp_path / 'e.ndjson'}",
        "--executor", "dask",
    )  # fmt: skip
    assert code == 2 and "pip install 'dicomsel[dask]'" in err
    code, _, err = run_cli("convert", SAMPLES, "-o", tmp_path / "o.json", "--scheduler", "x:1")
    assert code == 2 and "needs the dask executor" in err


# ---- the executor on its own: order, groups of batches, logs


def _reverse_pairs(marks: str, batch: list[int]) -> list[int]:
    """A task function: an even batch finishes only after the odd one after it."""
    (i,) = batch
    if i % 2 == 0:
        deadline = time.monotonic() + 60
        while not os.path.exists(os.path.join(marks, str(i + 1))) and time.monotonic() < deadline:
            time.sleep(0.01)
    with open(os.path.join(marks, "order"), "a", encoding="utf-8") as f:
        f.write(f"{i}\n")
    with open(os.path.join(marks, str(i)), "w", encoding="utf-8"):
        pass
    return [i * 10]


def test_batches_finishing_in_reverse_still_come_back_in_order(
    tmp_path: Path, cluster: Any
) -> None:
    from dicomsel.export import DaskExecutor

    executor = DaskExecutor(scheduler=cluster.scheduler_address, batch_size=1)
    fn = functools.partial(_reverse_pairs, str(tmp_path))
    got = list(executor.map(fn, [[i] for i in range(4)]))
    finished = [int(x) for x in (tmp_path / "order").read_text().split()]
    assert finished.index(1) < finished.index(0) and finished.index(3) < finished.index(2)
    assert got == [[0], [10], [20], [30]]


def _logged(batch: list[int]) -> list[tuple[int, int]]:
    """A task function: logs each item on the ``dicomsel`` logger, returns it and its pid."""
    for i in batch:
        logging.getLogger("dicomsel").warning("item %d", i)
        logging.getLogger("dicomsel").debug("not at this level %d", i)
    return [(i, os.getpid()) for i in batch]


def test_groups_of_batches_and_worker_logs(cluster: Any) -> None:
    """Batches grouped into tasks of at least batch_size items, each batch back on its own,
    its workers' log records logged in the driver before it, in order."""
    from dicomsel.export import DaskExecutor

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("dicomsel")
    saved = logger.handlers[:], logger.level, logger.propagate
    logger.handlers[:], logger.propagate = [handler], False
    logger.setLevel(logging.WARNING)
    batches = [list(range(k, k + 3)) for k in range(0, 30, 3)]
    seen: list[int] = []
    try:
        executor = DaskExecutor(scheduler=cluster.scheduler_address, batch_size=7)
        for batch, got in zip(batches, executor.map(_logged, batches), strict=True):
            assert [i for i, _ in got] == batch
            seen.append(len(records))
            pids = {pid for _, pid in got}
            assert os.getpid() not in pids
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved
    assert [r.getMessage() for r in records] == [f"item {i}" for i in range(30)]
    assert seen == [3 * (k + 1) for k in range(10)]  # each batch after its own records
    assert all(r.process != os.getpid() for r in records)


def test_bad_settings_are_refused() -> None:
    from dicomsel.export import DaskExecutor, executor_for

    with pytest.raises(ValueError, match="workers"):
        DaskExecutor(workers=0)
    with pytest.raises(ValueError, match="batch_size"):
        DaskExecutor(batch_size=0)
    with pytest.raises(ValueError, match="unknown executor"):
        executor_for("spark", 2)
    assert isinstance(executor_for("dask", 3), DaskExecutor)
    assert executor_for("dask", 3).workers == 3  # type: ignore[attr-defined]
    assert sys.modules["dicomsel.export.dask"].DEFAULT_TASK_SIZE >= 16


@pytest.mark.parametrize("kind", ["dicomweb", "dimse"])
def test_export_from_orthanc_on_dask(tmp_path: Path, cluster: Any, orthanc: Any, kind: str) -> None:
    """A PACS export on the cluster: the same bytes as the local export (issue 12, item 5).

    The workers retrieve the instances themselves from the item references (UIDs and
    the source's settings), so they need network access to the PACS, as on a real cluster.
    """
    from pacs import CALLING_AET

    orthanc.clear()
    src = tmp_path / "in"
    _kos(src, 10)
    _images(src, 0, 40, series=2)
    orthanc.upload(sorted(src.iterdir()))
    source = orthanc.dicomweb if kind == "dicomweb" else orthanc.dimse
    outputs = {}
    for executor in ("local", "dask"):
        out = tmp_path / f"{executor}.ndjson"
        _cli(
            "export", "--source", source, "--sink", f"ndjson:{out}", "--aet", CALLING_AET,
            "--state", tmp_path / f"{executor}.sqlite", "--timezone", "+00:00",
            "--executor", executor, "--jobs", "2",
            *(("--scheduler", cluster.scheduler_address) if executor == "dask" else ()),
        )  # fmt: skip
        outputs[executor] = out.read_bytes()
    assert outputs["dask"] == outputs["local"]
    refs = _by_ref(_lines(tmp_path / "dask.ndjson"))
    assert all(len(v) == 1 for v in refs.values())
    assert sum(r.startswith("ImagingSelection/") for r in refs) >= 10 + 2
