# Two commands on a fresh machine: `make demo` runs the main demo, `make test` runs the tests.
# Both create .venv and install what they need (CPU torch included; nothing from a model hub).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
BASE_STAMP := $(VENV)/.turngym-base
TEST_STAMP := $(VENV)/.turngym-test

.PHONY: demo test test-main test-vllm test-fast bench install clean

$(BASE_STAMP): pyproject.toml setup.py turngym/sandbox/_forkloop.c
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch first, pinned to the CPU wheel: any other spelling may pull a multi-GB CUDA build.
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[models,algos,replay]"
	touch $@

# Everything the whole suite exercises: the real ALFWorld engine (two source builds, cached
# by pip after the first time), the sandbox's seccomp binding, Ray, Chromium for the browser
# tests, and real vLLM on CPU in its own venv (.venv-vllm).
$(TEST_STAMP): $(BASE_STAMP) scripts/install_alfworld.sh scripts/install_browser_tests.sh scripts/install_vllm.sh
	$(PIP) install -q -e ".[models,algos,replay,sandbox,docker,ray,browser,dev,webshop,search,dense,code,toolcall,math]"
	bash scripts/install_alfworld.sh $(PY)
	VENV=$(abspath $(VENV)) bash scripts/install_browser_tests.sh
	bash scripts/install_vllm.sh
	touch $@

install: $(BASE_STAMP)

demo: $(BASE_STAMP)
	$(VENV)/bin/turngym train configs/keydoor_gigpo.yaml --profile cpu run.out=runs/demo-$$(date +%Y%m%d-%H%M%S)

test: test-main test-vllm

test-main: $(TEST_STAMP)
	$(VENV)/bin/pytest -q

test-vllm: $(TEST_STAMP)
	.venv-vllm/bin/python -m pytest -q -m vllm tests/backends tests/train

test-fast: $(BASE_STAMP)
	$(VENV)/bin/pytest -q -m "not slow and not browser"

bench: $(TEST_STAMP)
	for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .venv-vllm runs .pytest_cache
