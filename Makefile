# The two entry points README.md gives:  make verify  (the main job)  and  make test.
# Each creates .venv on first use and installs what it needs into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.runtime-installed
TESTDEPS := $(VENV)/.test-installed
TYPECHECK := .build/typecheck/numacheck

.PHONY: verify test test-verify lint typecheck clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUNTIME): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	touch $@

$(TESTDEPS): pyproject.toml $(RUNTIME)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

verify: $(RUNTIME)
	$(BIN)/numacheck verify

# mypy needs the installed layout (numacheck.model = model/, ...); a tree of symlinks gives it.
$(TYPECHECK): Makefile
	mkdir -p $(TYPECHECK)
	for d in model properties checker reports conform; do ln -sfn ../../../$$d $(TYPECHECK)/$$d; done

lint: $(TESTDEPS)
	$(BIN)/ruff check .

typecheck: $(TESTDEPS) $(TYPECHECK)
	$(BIN)/mypy -p numacheck

# The default tier: minutes, small instances.  test-verify: the default-instance matrix too.
test: lint typecheck
	$(BIN)/python -m pytest

test-verify: $(TESTDEPS)
	$(BIN)/python -m pytest -m verify

clean:
	rm -rf $(VENV) .build .pytest_cache .mypy_cache .ruff_cache .hypothesis
