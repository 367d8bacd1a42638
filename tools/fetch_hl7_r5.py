#!/usr/bin/env python3
"""Cache the parts of HL7's FHIR R5 npm packages that the test-side validator needs.

Usage:
    python tools/fetch_hl7_r5.py           # fetch into the cache unless it is already complete
    python tools/fetch_hl7_r5.py --check   # exit 0 if the cache is complete, 1 if not

The cache directory defaults to ``<repo>/.cache/hl7.fhir.r5.core-5.0.0/`` and can be moved with
the environment variable ``DICOMSEL_HL7_CACHE``.  Its layout mirrors the npm package with the
leading ``package/`` stripped::

    MANIFEST.json                       what was fetched (written by this tool)
    package.json                        hl7.fhir.r5.core's own package.json
    openapi/fhir.schema.json            HL7's JSON schema for R5 (draft-06)
    CodeSystem-<id>.json                the CodeSystems behind required bindings we check
    StructureDefinition-<type>.json     cardinalities: selected resources + all complex datatypes
    tho/package.json                    hl7.terminology.r5's package.json
    tho/CodeSystem-<id>.json            CodeSystems that live in THO rather than in core
    examples/package.json               hl7.fhir.r5.examples' package.json
    examples/<Type>-<id>.json           HL7's own examples of the resource types we emit

The packages come from the npm registry through ``npm pack``; the archive is read with
``tarfile`` and only the files above are written, first to a temporary directory that is then
renamed into place, so a cache directory either is complete or does not exist.

Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CORE_NAME, CORE_VERSION = "hl7.fhir.r5.core", "5.0.0"
# THO (terminology.hl7.org) publishes the CodeSystems with http://terminology.hl7.org/... URLs;
# 7.0.1 is the only hl7.terminology.r5 version on the npm registry.
THO_NAME, THO_VERSION = "hl7.terminology.r5", "7.0.1"
# HL7's published R5 examples: known-valid input for the validator's own tests.
EXAMPLES_NAME, EXAMPLES_VERSION = "hl7.fhir.r5.examples", "5.0.0"

# Bump whenever the selection of files below changes, so older caches count as incomplete.
FORMAT = 2

SCHEMA = "openapi/fhir.schema.json"
CORE_CODE_SYSTEMS = (
    "imagingselection-status",
    "imagingselection-2dgraphictype",
    "imagingselection-3dgraphictype",
    "endpoint-status",
    "observation-status",
    "bundle-type",
    "http-verb",
    "narrative-status",
    "identifier-use",
)
THO_CODE_SYSTEMS = ("endpoint-connection-type",)
# Resources whose StructureDefinition is kept (for element cardinalities the schema omits).
# Every complex datatype's StructureDefinition is kept as well (derived from the schema).
RESOURCE_STRUCTURE_DEFINITIONS = (
    "BodyStructure",
    "Bundle",
    "Device",
    "DiagnosticReport",
    "Endpoint",
    "ImagingSelection",
    "ImagingStudy",
    "Observation",
    "OperationOutcome",
    "Parameters",
    "Patient",
    "Practitioner",
)

# Examples kept: every one of these types, plus Bundles up to EXAMPLE_BUNDLE_MAX_BYTES.
EXAMPLE_TYPES = ("Endpoint", "ImagingSelection", "ImagingStudy", "Observation")
EXAMPLE_BUNDLE_MAX_BYTES = 64 * 1024

MANIFEST = "MANIFEST.json"
THO_DIR = "tho"
EXAMPLES_DIR = "examples"
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-]*")


class FetchError(Exception):
    """A failure worth a one-line message and a non-zero exit."""


def cache_dir() -> Path:
    """The cache directory: ``$DICOMSEL_HL7_CACHE`` or ``<repo>/.cache/<core>-<version>``."""
    override = os.environ.get("DICOMSEL_HL7_CACHE", "").strip()
    if override:
        return Path(override).expanduser().resolve()
    return REPO / ".cache" / f"{CORE_NAME}-{CORE_VERSION}"


def required_files() -> list[str]:
    """Files every complete cache has, whatever the datatype list turned out to be."""
    files = [MANIFEST, "package.json", SCHEMA, f"{THO_DIR}/package.json"]
    files += [f"{EXAMPLES_DIR}/package.json"]
    files += [f"CodeSystem-{cs}.json" for cs in CORE_CODE_SYSTEMS]
    files += [f"{THO_DIR}/CodeSystem-{cs}.json" for cs in THO_CODE_SYSTEMS]
    files += [f"StructureDefinition-{t}.json" for t in RESOURCE_STRUCTURE_DEFINITIONS]
    return files


def _read_manifest(directory: Path) -> dict[str, object] | None:
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def is_complete(directory: Path) -> bool:
    """True if ``directory`` holds a cache written by this version of the tool, all files there."""
    manifest = _read_manifest(directory)
    if manifest is None:
        return False
    if manifest.get("format") != FORMAT:
        return False
    for key, name, version in (
        ("core", CORE_NAME, CORE_VERSION),
        ("tho", THO_NAME, THO_VERSION),
        ("examples", EXAMPLES_NAME, EXAMPLES_VERSION),
    ):
        if manifest.get(key) != f"{name}@{version}":
            return False
    files = manifest.get("files")
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return False
    listed = set(files) | {MANIFEST}
    if not set(required_files()) <= listed:
        return False
    return all((directory / f).is_file() for f in listed)


def _npm_pack(spec: str, workdir: Path) -> tuple[Path, dict[str, object]]:
    """Run ``npm pack <spec>`` in ``workdir``; return the tarball path and npm's JSON report."""
    npm = shutil.which("npm")
    if npm is None:
        raise FetchError(
            "npm was not found on PATH; it is needed to download HL7's FHIR packages "
            "(install Node.js/npm, e.g. `apt-get install npm`)"
        )
    env = dict(os.environ)
    env.update(
        npm_config_update_notifier="false",
        npm_config_fund="false",
        npm_config_audit="false",
        npm_config_loglevel="error",
    )
    try:
        proc = subprocess.run(
            [npm, "pack", spec, "--json", "--pack-destination", str(workdir)],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise FetchError(f"`npm pack {spec}` timed out after {exc.timeout:.0f} s") from None
    except OSError as exc:
        raise FetchError(f"could not run npm ({npm}): {exc}") from None
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
        raise FetchError(f"`npm pack {spec}` failed (exit {proc.returncode}): {tail}")
    report: dict[str, object] = {}
    try:
        parsed = json.loads(proc.stdout)
        if isinstance(parsed, list) and parsed and isinstance(parsed[0], dict):
            report = parsed[0]
    except ValueError:
        pass
    filename = report.get("filename")
    tarball = workdir / filename if isinstance(filename, str) else None
    if tarball is None or not tarball.is_file():
        found = sorted(workdir.glob("*.tgz"))
        if len(found) != 1:
            raise FetchError(f"`npm pack {spec}` succeeded but left no single .tgz in {workdir}")
        tarball = found[0]
    return tarball, report


def _member_bytes(tar: tarfile.TarFile, names: set[str], name: str) -> bytes:
    if name not in names:
        raise FetchError(f"{name} is missing from {tar.name}")
    member = tar.getmember(name)
    if not member.isfile():
        raise FetchError(f"{name} in {tar.name} is not a regular file")
    handle = tar.extractfile(member)
    if handle is None:
        raise FetchError(f"cannot read {name} from {tar.name}")
    with handle:
        return handle.read()


def _write(dest: Path, relpath: str, data: bytes) -> None:
    target = dest / relpath
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def _check_package_json(data: bytes, name: str, version: str) -> None:
    meta = json.loads(data)
    if meta.get("name") != name or meta.get("version") != version:
        got = f"{meta.get('name')}@{meta.get('version')}"
        raise FetchError(f"npm returned {got}, expected {name}@{version}")


def _complex_datatypes(schema: dict[str, object]) -> list[str]:
    """Complex datatype names: schema definitions that have properties and are not resources."""
    definitions = schema.get("definitions")
    discriminator = schema.get("discriminator")
    if not isinstance(definitions, dict) or not isinstance(discriminator, dict):
        raise FetchError(f"{SCHEMA} does not look like HL7's FHIR JSON schema")
    resources = set(discriminator.get("mapping", {}))
    return sorted(
        name
        for name, definition in definitions.items()
        if "_" not in name
        and name not in resources
        and isinstance(definition, dict)
        and "properties" in definition
        and _SAFE_NAME.fullmatch(name)
    )


def _extract_core(tarball: Path, dest: Path) -> list[str]:
    written: list[str] = []
    with tarfile.open(tarball, "r:gz") as tar:
        names = set(tar.getnames())

        def copy(relpath: str) -> bytes:
            data = _member_bytes(tar, names, f"package/{relpath}")
            _write(dest, relpath, data)
            written.append(relpath)
            return data

        _check_package_json(copy("package.json"), CORE_NAME, CORE_VERSION)
        schema = json.loads(copy(SCHEMA))
        for cs in CORE_CODE_SYSTEMS:
            copy(f"CodeSystem-{cs}.json")
        datatypes = [
            t
            for t in _complex_datatypes(schema)
            if f"package/StructureDefinition-{t}.json" in names
        ]
        for type_name in sorted(set(RESOURCE_STRUCTURE_DEFINITIONS) | set(datatypes)):
            copy(f"StructureDefinition-{type_name}.json")
    return written


def _extract_tho(tarball: Path, dest: Path) -> list[str]:
    written: list[str] = []
    with tarfile.open(tarball, "r:gz") as tar:
        names = set(tar.getnames())
        for relpath in ["package.json"] + [f"CodeSystem-{cs}.json" for cs in THO_CODE_SYSTEMS]:
            data = _member_bytes(tar, names, f"package/{relpath}")
            if relpath == "package.json":
                _check_package_json(data, THO_NAME, THO_VERSION)
            _write(dest, f"{THO_DIR}/{relpath}", data)
            written.append(f"{THO_DIR}/{relpath}")
    return written


def _extract_examples(tarball: Path, dest: Path) -> list[str]:
    written: list[str] = []
    with tarfile.open(tarball, "r:gz") as tar:
        names = set(tar.getnames())
        data = _member_bytes(tar, names, "package/package.json")
        _check_package_json(data, EXAMPLES_NAME, EXAMPLES_VERSION)
        _write(dest, f"{EXAMPLES_DIR}/package.json", data)
        written.append(f"{EXAMPLES_DIR}/package.json")
        for member in tar.getmembers():
            directory, _, filename = member.name.rpartition("/")
            resource_type = filename.split("-", 1)[0]
            if directory != "package" or not member.isfile() or not filename.endswith(".json"):
                continue
            if not _SAFE_NAME.fullmatch(filename):
                continue
            if resource_type in EXAMPLE_TYPES or (
                resource_type == "Bundle" and member.size <= EXAMPLE_BUNDLE_MAX_BYTES
            ):
                _write(dest, f"{EXAMPLES_DIR}/{filename}", _member_bytes(tar, names, member.name))
                written.append(f"{EXAMPLES_DIR}/{filename}")
    if len(written) < 2:
        raise FetchError(f"no examples of {', '.join(EXAMPLE_TYPES)} found in {tarball.name}")
    return written


# manifest key, npm package name, version, extractor
_PACKAGES = (
    ("core", CORE_NAME, CORE_VERSION, _extract_core),
    ("tho", THO_NAME, THO_VERSION, _extract_tho),
    ("examples", EXAMPLES_NAME, EXAMPLES_VERSION, _extract_examples),
)


def _install(staging: Path, target: Path) -> bool:
    """Rename ``staging`` to ``target``; False if a concurrent run got there first."""
    old: Path | None = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f"{target.name}.old-", dir=target.parent))
        os.rename(target, old / "cache")
    try:
        os.rename(staging, target)
    except OSError:
        if is_complete(target):
            return False
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return True


def fetch(target: Path) -> str:
    """Make ``target`` a complete cache; return the one-line description of what happened."""
    if is_complete(target):
        return f"hl7 r5 cache already complete at {target}"
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{target.name}.tmp-", dir=target.parent))
    try:
        with tempfile.TemporaryDirectory(prefix="hl7-npm-pack-") as work:
            workdir = Path(work)
            reports: dict[str, dict[str, object]] = {}
            files: list[str] = []
            for key, name, version, extract in _PACKAGES:
                (workdir / key).mkdir()
                tarball, reports[key] = _npm_pack(f"{name}@{version}", workdir / key)
                try:
                    files += extract(tarball, staging)
                except (tarfile.TarError, OSError, ValueError) as exc:
                    raise FetchError(f"cannot read {tarball.name}: {exc}") from None
        manifest: dict[str, object] = {"format": FORMAT}
        for key, name, version, _ in _PACKAGES:
            manifest[key] = f"{name}@{version}"
            manifest[f"{key}_integrity"] = reports[key].get("integrity")
        manifest["files"] = sorted(files)
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        if not is_complete(staging):
            raise FetchError("internal error: the freshly built cache is incomplete")
        if not _install(staging, target):
            return f"hl7 r5 cache completed concurrently at {target}; nothing to do"
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return (
        f"fetched {CORE_NAME}@{CORE_VERSION}, {THO_NAME}@{THO_VERSION} and "
        f"{EXAMPLES_NAME}@{EXAMPLES_VERSION} with npm pack; cached {len(files)} files in {target}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 0 if the cache is complete, 1 if not"
    )
    args = parser.parse_args(argv)
    target = cache_dir()
    if args.check:
        if is_complete(target):
            print(f"hl7 r5 cache complete at {target}")
            return 0
        print(f"hl7 r5 cache missing or incomplete at {target}")
        return 1
    try:
        print(fetch(target))
    except FetchError as exc:
        print(f"fetch_hl7_r5: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"fetch_hl7_r5: error: cannot write the cache at {target}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
