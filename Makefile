# Two commands on a fresh machine: `make demo` runs the main demo, `make test` runs the tests.
# Both create .venv and install what they need (CPU torch included; nothing from a model hub).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.turngym-installed
EXTRAS ?= models,algos,replay,dev

.PHONY: demo test test-fast bench install clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch first, pinned to the CPU wheel: any other spelling may pull a multi-GB CUDA build.
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[$(EXTRAS)]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/turngym rollout KeyDoor-v0 --agent oracle -n 32 --group 4 --out runs/demo
	$(VENV)/bin/turngym rollout KeyDoor-v0 --agent random -n 32 --group 4 --out runs/demo

test: $(STAMP)
	$(VENV)/bin/pytest -q

test-fast: $(STAMP)
	$(VENV)/bin/pytest -q -m "not slow"

bench: $(STAMP)
	for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) runs .pytest_cache
