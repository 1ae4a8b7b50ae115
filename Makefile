# The two commands of the README: `make lab` and `make test`. Both work from a fresh clone.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.stamp
ROOT_FLAGS := $(if $(filter 0,$(shell id -u)),--allow-root,)
LAB_PORT ?= 8888
PYTEST_ARGS ?=

.PHONY: lab test bench bench-peers bench-slurm soak worker stop-worker setup setup-test clean lint slurm-up slurm-down

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install -q -U pip

$(STAMP)-lab: pyproject.toml | $(PY)
	$(PIP) install -q -e ".[lab]"
	touch $@

$(STAMP)-test: pyproject.toml | $(PY)
	$(PIP) install -q -e ".[test]"
	touch $@

# The sidebar: pip's build made it once; a change to its sources rebuilds it, and the venv's
# share/jupyter/labextensions/jobmagics links to the build (not a stale copy of it).
EXT_SOURCES := $(wildcard labextension/src/*.ts labextension/src/*/*.ts labextension/style/*) labextension/package.json
$(STAMP)-ext: $(EXT_SOURCES) | $(PY)
	cd labextension && PATH=$(abspath $(VENV))/bin:$$PATH jlpm install && PATH=$(abspath $(VENV))/bin:$$PATH jlpm build
	PATH=$(abspath $(VENV))/bin:$$PATH $(VENV)/bin/jupyter labextension develop --overwrite . > /dev/null
	touch $@

setup: $(STAMP)-lab $(STAMP)-ext
setup-test: $(STAMP)-test $(STAMP)-ext

## make lab: set up, start a worker on the default queue in the background, open JupyterLab on notebooks/
lab: setup worker
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks --port $(LAB_PORT) $(ROOT_FLAGS)

## a background worker on the default queue ($$JOBMAGICS_QUEUE or ~/.jobmagics/queue); kept if already running
worker: setup
	@mkdir -p .lab
	@if [ -f .lab/worker.pid ] && kill -0 $$(cat .lab/worker.pid) 2>/dev/null; then \
		echo "worker already running (pid $$(cat .lab/worker.pid))"; \
	else \
		nohup setsid $(PY) -m kernel_worker --slots 2 --resource hardware > .lab/worker.log 2>&1 & echo $$! > .lab/worker.pid; \
		echo "worker started (pid $$(cat .lab/worker.pid), log .lab/worker.log)"; \
	fi

stop-worker:
	@if [ -f .lab/worker.pid ]; then kill $$(cat .lab/worker.pid) 2>/dev/null || true; rm -f .lab/worker.pid; fi

## make test: set up with test extras and run the whole suite (unit, integration, notebooks, browser, slurm)
# The browser tests run in their own pytest process: Playwright's sync API and pytest_jupyter's
# event loop cannot share one. The last step fails when the suite left a SLURM daemon (or job
# step) running that was not running before it: the slurm tests stop what they started.
SLURM_PIDS = ps -eo pid=,stat=,comm= | awk '$$2 !~ /^Z/ && $$3 ~ /^(slurmctld|slurmd|slurmstepd|munged|slurmdbd|mariadbd)$$/ {print $$1}' | sort
test: setup-test
	@$(SLURM_PIDS) > $(VENV)/.slurm-pids-before-test
	$(PY) -m pytest tests --ignore=tests/browser --durations=25 $(PYTEST_ARGS)
	$(PY) -m pytest tests/browser $(PYTEST_ARGS)
	cd labextension && PATH=$(abspath $(VENV))/bin:$$PATH jlpm install && PATH=$(abspath $(VENV))/bin:$$PATH jlpm test
	$(PY) -m pytest --nbval notebooks --nbval-sanitize-with notebooks/nbval_sanitize.cfg -p no:cacheprovider
	@left=$$($(SLURM_PIDS) | comm -13 $(VENV)/.slurm-pids-before-test -); \
	if [ -n "$$left" ]; then echo "make test left running: $$(ps -o pid=,comm= -p "$$(echo $$left | tr ' ' ,)" | tr -s ' \n' ' ')" >&2; exit 1; fi; \
	echo "make test: no SLURM daemon left running that it started"

## make bench: the core figures (and the notebook ones) -> bench/results.json
bench: setup-test
	$(PY) bench/bench_core.py
	$(PY) bench/bench_notebook.py
	$(PY) bench/bench_recovery.py
	$(PY) bench/bench_server.py --keep $(abspath $(VENV))/bench-server-queue
	$(PY) bench/bench_service.py
	$(PY) bench/bench_arrays.py
	$(PY) bench/bench_schedules.py
	$(PY) bench/bench_notifications.py
	$(PY) bench/bench_retention.py
	$(PY) bench/bench_edits.py
	$(PY) bench/bench_live.py
	$(PY) bench/bench_job_view.py
	$(PY) bench/bench_job_view_page.py
	$(PY) bench/bench_sidebar_server.py --keep $(abspath $(VENV))/bench-sidebar-queue
	$(PY) bench/bench_sidebar.py --keep $(abspath $(VENV))/bench-sidebar-queue

## make soak: the reliability scenarios with long loads (50+ worker kills, bigger submit storms)
soak: setup-test
	JOBMAGICS_SOAK=1 $(PY) -m pytest tests/reliability --timeout 1800 $(PYTEST_ARGS)

## make bench-peers: jobmagics next to SLURM, huey, submitit, ProcessPoolExecutor (not in CI)
bench-peers: setup-test
	$(PIP) install -q -e ".[test,bench]"
	$(PY) bench/bench_peers.py

## make lint: ruff and mypy on the Python, tsc and Biome on the sidebar's TypeScript (config in
## pyproject.toml and labextension/biome.jsonc); every tool runs, and any finding fails the target
LINT_PY = jobmagics kernel_worker bench tests $(wildcard notebooks/*.py)
JLPM = PATH=$(abspath $(VENV))/bin:$$PATH jlpm
LAB_NODE_MODULES := labextension/node_modules/.yarn-state.yml
$(LAB_NODE_MODULES): labextension/package.json labextension/yarn.lock | $(STAMP)-test
	cd labextension && $(JLPM) install
	touch $@

lint: setup-test $(LAB_NODE_MODULES)
	@failed=""; \
	echo "== ruff"; $(VENV)/bin/ruff check $(LINT_PY) || failed="$$failed ruff"; \
	echo "== mypy"; $(VENV)/bin/mypy || failed="$$failed mypy"; \
	echo "== tsc"; (cd labextension && $(JLPM) typecheck) || failed="$$failed tsc"; \
	echo "== biome"; (cd labextension && $(JLPM) lint) || failed="$$failed biome"; \
	if [ -n "$$failed" ]; then echo "make lint: findings from$$failed" >&2; exit 1; fi; \
	echo "make lint: clean"

clean: stop-worker
	rm -rf $(VENV) .lab build dist *.egg-info jobmagics/labextension labextension/node_modules labextension/lib

## a single-node SLURM on this machine (root; the slurm tests start it themselves when needed)
slurm-up:
	.ci/slurm-up

slurm-down:
	.ci/slurm-down

bench-slurm: setup-test
	$(PY) bench/bench_slurm.py
