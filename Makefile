# dicomsel: `make demo` and `make test` do all set-up on a fresh machine.
# `make fuzz`: 100,000 mutants of ../shared/realdata and sample_dicom/ (tools/fuzz.py; FUZZ_ARGS).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
SRC    := src tests bench sample_dicom tools

.PHONY: all venv demo test lint types pytest hl7 dicomtools samples bench clean

all: test

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

venv: $(STAMP)

# HL7's own R5 package (npm hl7.fhir.r5.core 5.0.0), cached in .cache/; tests skip
# without it outside CI, and fail without it in CI.
hl7: $(STAMP)
	$(PY) tools/fetch_hl7_r5.py || echo "make: HL7 R5 package not fetched; schema tests will skip (fail under CI)"

demo: $(STAMP)
	mkdir -p out
	$(PY) -m dicomsel convert sample_dicom -o out/demo-bundle.json --report out/demo-report.json --timezone +00:00; \
	  rc=$$?; $(PY) tools/summarise.py out/demo-bundle.json out/demo-report.json; \
	  test $$rc -eq 0 -o $$rc -eq 3

lint: $(STAMP)
	$(VENV)/bin/ruff check $(SRC)
	$(VENV)/bin/ruff format --check $(SRC)

types: $(STAMP)
	$(VENV)/bin/mypy

# The real DICOM tools for the tests: dciodvfy (Debian dicom3tools) and dsrdump (Debian
# dcmtk) for the KOS tests, Orthanc with its DICOMweb plugin (Debian orthanc,
# orthanc-dicomweb) as the PACS of the export tests; installed with apt-get when missing
# and we are root. Never fails the make: without them the tests skip with a reason, and
# fail under CI. Orthanc is only installed, never started here: the tests start their own.
dicomtools:
	@if command -v dciodvfy >/dev/null 2>&1 && command -v dsrdump >/dev/null 2>&1 \
	    && test -x /usr/sbin/Orthanc && test -f /usr/share/orthanc/plugins/libOrthancDicomWeb.so; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "make: installing dicom3tools, dcmtk, orthanc and orthanc-dicomweb"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends dicom3tools dcmtk orthanc orthanc-dicomweb; } >/dev/null 2>&1 \
	    || echo "make: apt-get could not install the DICOM tools; their tests will skip (fail under CI)"; \
	  if command -v service >/dev/null 2>&1; then service orthanc stop >/dev/null 2>&1 || true; fi; \
	else echo "make: DICOM tools missing and not root with apt-get; their tests will skip (fail under CI)"; fi

pytest: $(STAMP) hl7 dicomtools
	$(PY) -m pytest

test: lint types pytest

samples: $(STAMP)
	$(PY) sample_dicom/generate.py sample_dicom

# exits 1 on any finding: an exception that is not a DicomselError, a hang, a crash
FUZZ_ARGS ?= -n 100000 --seed 10
.PHONY: fuzz
fuzz: $(STAMP)
	$(PY) tools/fuzz.py $(FUZZ_ARGS)

# Every row of issue 14's table in one run (bench/README.md): a Markdown table on stdout and
# every number in out/bench.json. BENCH_ARGS="--quick", "--compare REV", "--rows kos sr".
# Installs nothing beyond the venv: dcmdump/dsrdump come from `make dicomtools`.
BENCH_ARGS ?=
bench: $(STAMP)
	$(PY) bench/bench_all.py --json out/bench.json $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .cache out .pytest_cache .mypy_cache .ruff_cache
