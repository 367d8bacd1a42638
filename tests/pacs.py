"""A real PACS on loopback for the export tests: Debian's Orthanc with its DICOMweb plugin.

``make test`` installs the Debian packages ``orthanc`` and ``orthanc-dicomweb`` when
it can (``make dicomtools``). :func:`start_orthanc` runs one Orthanc on free ports
with its storage in a temporary folder, registers the calling AE titles the tests
use (Orthanc rejects C-FIND/C-GET/C-MOVE from an AE not in ``DicomModalities``),
waits until its REST API answers and stops it by its PID. Without Orthanc the
tests skip with a reason; in CI (``CI`` set) they fail instead.

Facts this relies on (Orthanc 1.10, Debian 12): it starts in about 0.3 s; the
plugin is ``/usr/share/orthanc/plugins/libOrthancDicomWeb.so``; ``DicomWeb.Host``
is left unset (set to 127.0.0.1 it drops the port from RetrieveURL); two Orthancs
must never share an index folder.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

__all__ = [
    "CALLING_AET",
    "CLI_AET",
    "MOVE_AET",
    "Orthanc",
    "free_port",
    "require_orthanc",
    "start_orthanc",
]

BINARY = "/usr/sbin/Orthanc"
PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
#: the AE title the export tests call Orthanc with
CALLING_AET = "DICOMSEL"
#: the AE title of the Storage SCP that dicomsel runs for C-MOVE
MOVE_AET = "DICOMSELMOVE"
#: the calling and C-MOVE AE title of command-line exports run in a subprocess: their own
#: move port, since a test process's own C-MOVE listener keeps ``move_port``
CLI_AET = "DICOMSELCLI"


def free_port() -> int:
    """A TCP port free on loopback now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def require_orthanc() -> str:
    """The Orthanc binary with its DICOMweb plugin; skip without them (fail under CI)."""
    binary = BINARY if os.path.exists(BINARY) else shutil.which("Orthanc")
    if binary is None or not os.path.exists(PLUGIN):
        why = (
            "Orthanc with its DICOMweb plugin is not installed (Debian packages orthanc and "
            "orthanc-dicomweb; `make dicomtools` installs them as root)"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{why}: CI must have it")
        pytest.skip(why)
    return binary


@dataclass
class Orthanc:
    """One running Orthanc: its ports, folder and process."""

    folder: Path
    http_port: int
    dicom_port: int
    aet: str
    process: subprocess.Popen[bytes]
    #: port of the Storage SCP that C-MOVE sends to (registered as MOVE_AET)
    move_port: int
    #: the C-MOVE port of CLI_AET
    cli_move_port: int
    uploaded: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The REST API base."""
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb(self) -> str:
        """The DICOMweb base URL (QIDO-RS, WADO-RS, STOW-RS)."""
        return f"{self.url}/dicom-web"

    @property
    def dimse(self) -> str:
        """The DIMSE peer as dicomsel's export names it."""
        return f"dimse://{self.aet}@127.0.0.1:{self.dicom_port}"

    def rest(self, method: str, path: str, body: bytes | None = None) -> object:
        """Call the REST API; the decoded JSON answer."""
        req = urllib.request.Request(self.url + path, data=body, method=method)
        with urllib.request.urlopen(req, timeout=30) as resp:
            data = resp.read()
        return json.loads(data) if data else None

    def upload(self, paths: Iterable[str | Path]) -> int:
        """Store files through the REST API; how many were stored."""
        n = 0
        for p in paths:
            self.rest("POST", "/instances", Path(p).read_bytes())
            self.uploaded.append(str(p))
            n += 1
        return n

    def clear(self) -> None:
        """Delete every patient (and so every study, series and instance)."""
        for pid in self.rest("GET", "/patients") or []:  # type: ignore[union-attr]
            self.rest("DELETE", f"/patients/{pid}")
        self.uploaded.clear()

    def instance_count(self) -> int:
        """Instances stored now."""
        stats = self.rest("GET", "/statistics")
        return int(stats["CountInstances"])  # type: ignore[index]

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL) and wait for it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_orthanc(folder: Path, aet: str = "ORTHANC") -> Orthanc:
    """Start an Orthanc with DICOMweb on free loopback ports, storage in ``folder``.

    Parameters
    ----------
    folder : Path
        Its configuration, storage, index and log; must not be shared with another Orthanc.
    aet : str
        Its own AE title.
    """
    binary = require_orthanc()
    folder.mkdir(parents=True, exist_ok=True)
    http_port, dicom_port, move_port = free_port(), free_port(), free_port()
    cli_move_port = free_port()
    config = {
        "Name": "dicomsel-test",
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "storage"),
        "HttpPort": http_port,
        "DicomPort": dicom_port,
        "DicomAet": aet,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "HttpServerEnabled": True,
        "Plugins": [PLUGIN],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        "DicomModalities": {
            "dicomsel": [CALLING_AET, "127.0.0.1", move_port],
            "dicomselmove": [MOVE_AET, "127.0.0.1", move_port],
            "dicomselcli": [CLI_AET, "127.0.0.1", cli_move_port],
        },
        "DicomCheckCalledAet": False,
        "StableAge": 1,
        "ConcurrentJobs": 2,
    }
    cfg = folder / "orthanc.json"
    cfg.write_text(json.dumps(config, indent=1))
    log = open(folder / "orthanc.log", "wb")  # noqa: SIM115 - the process owns it
    proc = subprocess.Popen([binary, str(cfg)], stdout=log, stderr=subprocess.STDOUT)
    log.close()
    server = Orthanc(folder, http_port, dicom_port, aet, proc, move_port, cli_move_port)
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            text = (folder / "orthanc.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"Orthanc exited with {proc.returncode}:\n{text}")
        try:
            server.rest("GET", "/system")
            break
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError("Orthanc did not answer in 30 s") from None
            time.sleep(0.05)
    return server
