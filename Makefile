# The two commands the README promises: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install test lint demo clean bench

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

demo: $(STAMP)
	$(VENV)/bin/cirahubctl demo

clean:
	rm -rf $(VENV) build dist *.egg-info
