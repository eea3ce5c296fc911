# The two commands the README promises: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install test lint demo clean bench fuzz bench-full soak

# `cirahub/<folder>` are symlinks to the top-level folders, and the editable install is a plain
# .pth entry for the repository (compat mode): static tools (mypy, pyright) follow the imports,
# and a new module or folder is importable without reinstalling.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]' --config-settings editable_mode=compat
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

# strict on the pure core, plain on the rest, pyright (basic) on everything
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy --strict -p cirahub.core
	$(VENV)/bin/mypy -p cirahub
	$(VENV)/bin/pyright

# Side by side with vdirsyncer (from PyPI, in the bench's own venv) and Radicale's raw PUT
# limit; results appended to docs/benchmarks.md. `bench` is the quick one (a fifth of the sizes).
VDIRSYNCER_VENV := bench/.venv-vdirsyncer
VDIRSYNCER      := $(VDIRSYNCER_VENV)/.installed
$(VDIRSYNCER):
	$(PYTHON) -m venv $(VDIRSYNCER_VENV)
	$(VDIRSYNCER_VENV)/bin/pip install --quiet 'vdirsyncer==0.21.0'
	touch $(VDIRSYNCER)

bench: $(STAMP) $(VDIRSYNCER)
	$(PY) bench/bench_vs_vdirsyncer.py --write docs/benchmarks.md $(BENCH_ARGS)

bench-full: $(STAMP) $(VDIRSYNCER)
	$(PY) bench/bench_vs_vdirsyncer.py --full --engine --write docs/benchmarks.md $(BENCH_ARGS)

# the iCalendar and CalDAV XML readers under many generated hostile inputs (the tests run a
# bounded number of them; FUZZ_EXAMPLES per reader here)
FUZZ_EXAMPLES ?= 20000
fuzz: $(STAMP)
	CIRAHUB_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -q -x tests/hardening/test_fuzz.py

demo: $(STAMP)
	$(VENV)/bin/cirahubctl demo

# the chaos soak (minutes): 110 faults of 10 kinds, then the checker; prints the tally
# (tests/soak/driver.py; SOAK_ARGS="--faults 200 --seed 7" for another run)
soak: $(STAMP)
	$(PY) -m tests.soak.driver $(SOAK_ARGS)

clean:
	rm -rf $(VENV) $(VDIRSYNCER_VENV) build dist *.egg-info
