# dicomsel: `make demo` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
SRC    := src tests bench sample_dicom tools

.PHONY: all venv demo test lint types pytest hl7 samples bench clean

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

pytest: $(STAMP) hl7
	$(PY) -m pytest

test: lint types pytest

samples: $(STAMP)
	$(PY) sample_dicom/generate.py sample_dicom

bench: $(STAMP)
	$(PY) bench/bench_kos.py

clean:
	rm -rf $(VENV) .cache out .pytest_cache .mypy_cache .ruff_cache
