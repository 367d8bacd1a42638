"""dicomsel.io.files: whole-or-nothing writes, output checks, temp sweeps, walks (issue 10, 7)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dicomsel.io.files import (
    TEMP_PREFIX,
    FileSource,
    OutputPathError,
    check_output,
    check_output_folder,
    replace_atomically,
    sweep_temp_files,
    walk,
    write_text,
)

from conftest import ROOT, SAMPLES


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def _temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(TEMP_PREFIX))


def _temp_name_parts(folder: Path) -> list[str]:
    """``<pid>``, ``<host>``, ``<rest>`` of the temp file a real write makes in ``folder``."""
    seen: list[str] = []
    replace_atomically(str(folder / "probe"), lambda f: seen.extend(_temps(folder)))
    (folder / "probe").unlink()
    (name,) = seen
    return name[len(TEMP_PREFIX) :].split("-", 2)


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# ---- non-regular files are written through, never renamed over


def test_fifo_output_is_written_through_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_text(str(fifo), "hello\n")
    reader.join(timeout=30)
    assert got == [b"hello\n"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still a FIFO
    assert _temps(tmp_path) == []


def test_dev_null_stays_a_character_device() -> None:
    replace_atomically("/dev/null", lambda f: f.write(b"data"))
    assert stat.S_ISCHR(os.lstat("/dev/null").st_mode)


def test_symlink_output_replaces_its_target(tmp_path: Path) -> None:
    target = tmp_path / "real.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    write_text(str(link), "new")
    assert link.is_symlink() and target.read_text() == "new"


# ---- modes: the caller's umask for a new file, the old mode for a replaced one


def test_new_output_gets_the_umask_mode(tmp_path: Path, umask: None) -> None:
    write_text(str(tmp_path / "a.json"), "{}")
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o644
    os.umask(0o027)
    write_text(str(tmp_path / "b.json"), "{}")
    assert stat.S_IMODE((tmp_path / "b.json").stat().st_mode) == 0o640


def test_replaced_output_keeps_its_mode(tmp_path: Path, umask: None) -> None:
    out = tmp_path / "a.json"
    out.write_text("old")
    out.chmod(0o600)
    write_text(str(out), "new")
    assert out.read_text() == "new" and stat.S_IMODE(out.stat().st_mode) == 0o600


def test_failed_write_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    out = tmp_path / "a.json"
    out.write_text("old")

    def boom(f: object) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        replace_atomically(str(out), boom)
    assert out.read_text() == "old" and _temps(tmp_path) == []


# ---- temp files of killed runs are swept on the next write into the folder


def test_temp_name_holds_pid_and_host(tmp_path: Path) -> None:
    pid, host, rest = _temp_name_parts(tmp_path)
    assert pid == str(os.getpid()) and len(host) == 8 and rest


def test_sweep_removes_only_temps_of_dead_processes_on_this_host(tmp_path: Path) -> None:
    host = _temp_name_parts(tmp_path)[1]
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = tmp_path / f"{TEMP_PREFIX}{_dead_pid()}-{host}-aaaa.json"
        alive = tmp_path / f"{TEMP_PREFIX}{sleeper.pid}-{host}-bbbb.json"
        other = tmp_path / f"{TEMP_PREFIX}{_dead_pid()}-00000000-cccc.json"
        unrelated = tmp_path / ".dicomsel-notes"
        for p in (dead, alive, other, unrelated):
            p.write_text("partial")
        removed = sweep_temp_files(str(tmp_path))
        assert removed == [str(dead)]
        assert not dead.exists() and alive.exists() and other.exists() and unrelated.exists()
    finally:
        sleeper.kill()
        sleeper.wait()


_KILLED_WRITER = """
import os, sys, time
from dicomsel.io.files import replace_atomically
def write(f):
    f.write(b"half")
    f.flush()
    print("writing", flush=True)
    time.sleep(600)
replace_atomically(sys.argv[1], write)
"""


def test_kill_9_while_writing_then_next_run_sweeps(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(out)], stdout=subprocess.PIPE, env=env
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == b"writing"
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stdout.close()
    assert len(_temps(tmp_path)) == 1 and not out.exists()  # the output absent, a temp left
    # the next run into the same folder (a new process, as the CLI would be)
    code = subprocess.run(
        [
            sys.executable,
            "-m",
            "dicomsel",
            "convert",
            str(SAMPLES / "kos_single_frame.dcm"),
            "-o",
            str(out),
        ],
        env=env,
        capture_output=True,
    ).returncode
    assert code == 0
    assert _temps(tmp_path) == [] and out.read_text().startswith("{")


# ---- output paths checked before any work


def test_check_output_errors(tmp_path: Path) -> None:
    check_output("-")
    check_output(str(tmp_path / "new.json"))
    check_output("/dev/null")
    with pytest.raises(OutputPathError, match="does not exist"):
        check_output(str(tmp_path / "missing" / "out.json"))
    with pytest.raises(OutputPathError, match="is a folder"):
        check_output(str(tmp_path))
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputPathError, match="is not a folder"):
        check_output(str(tmp_path / "file" / "out.json"))
    with pytest.raises(OutputPathError, match="does not exist"):
        check_output_folder(str(tmp_path / "missing"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
def test_check_output_unwritable_folder(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(OutputPathError, match="not writable"):
            check_output(str(ro / "out.json"))
    finally:
        ro.chmod(0o755)


# ---- walks: symbolic links to folders followed, each real folder once


def test_symlinked_folders_are_followed_once(tmp_path: Path) -> None:
    top = tmp_path / "top"
    (top / "sub").mkdir(parents=True)
    (top / "sub" / "a.dcm").write_text("a")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "b.dcm").write_text("b")
    (top / "linked").symlink_to(elsewhere)  # a folder outside: followed
    (top / "sub" / "loop").symlink_to(top)  # a loop back to the top: not followed again
    (top / "again").symlink_to(top / "sub")  # a second name for a folder: searched once
    found = [os.path.relpath(p, top) for p, _ in walk([top])]
    assert sorted(found) == ["linked/b.dcm", "sub/a.dcm"] or sorted(found) == [
        "again/a.dcm",
        "linked/b.dcm",
    ]
    assert len(found) == 2


def test_stdin_item(tmp_path: Path) -> None:
    items = list(FileSource(["-"]).items())
    assert [(i.key, i.missing) for i in items] == [("<stdin>", "standard input was not read")]
    copy = tmp_path / "copy.dcm"
    copy.write_bytes(b"not dicom at all" * 20)
    source = FileSource(["-"], stdin=str(copy))
    (item,) = source.items()
    assert item.key == "<stdin>" and item.missing is None
    from dicomsel.dicom import ReadOptions
    from dicomsel.errors import NotDicomError

    with pytest.raises(NotDicomError) as e:
        source.read(item, ReadOptions())
    assert str(e.value).startswith("<stdin>: ") and str(copy) not in str(e.value)
