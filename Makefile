# One entry point for everything a developer does. `make test` works on a fresh clone: it builds its own
# virtual environments first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .venv-sam
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
# pip skips byte-compiling what it installs (torch alone is thousands of files): a module compiles on its first import.
export PIP_COMPILE := 0

.PHONY: help venv chromium lint security test test-glue test-sagemaker test-unit test-integration test-e2e mutation model demo dashboard \
	bench clean deploy destroy reopen

help:
	@echo "make demo   - run the whole product on this machine (no AWS account)"
	@echo "make test   - lint, validate the SAM template, and run every test"
	@echo "make mutation - the hand-placed mutants of tests/mutation/catalogue.py against their tests (not in make test)"
	@echo "make model  - run the local model pipeline (PROFILE=quick|full, THREADS=N)"
	@echo "make bench  - run every benchmark once, quick settings (each prints the machine it ran on)"
	@echo "make dashboard - the developer dashboard (ONDEMAND_API_URL, DASHBOARD_PORT)"
	@echo "make lint   - ruff check and format, mypy over every Python folder, ESLint, the template's linters"
	@echo "make clean  - remove every venv, node_modules and the caches (trained models stay)"
	@echo "make deploy - the stack on AWS: preflight, sam build and deploy, the page on CloudFront, the first model, a smoke test"
	@echo "make destroy - remove the stack and all it made on AWS; fails if anything is left"
	@echo "make reopen - reopen the API after the monthly ceiling (MonthlyBudgetUsd) closed it"

# The requirements, then the project itself, editable (pyproject.toml): every package imports by name, from any
# directory and in every child process, with no PYTHONPATH.
$(VENV)/.installed: requirements-dev.txt functions/requirements.txt training/requirements.txt glue_jobs/requirements.txt \
		frontend/requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

# SAM CLI pins its own dependency ranges, so it lives in a venv of its own.
$(SAM_VENV)/.installed:
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet aws-sam-cli
	touch $@

# The browser tests drive Debian's Chromium (Playwright cannot download its own here). Installed once, as root.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "Install Chromium and chromedriver at $(CHROMIUM) for the browser tests"; exit 1; }
	$(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -qq chromium chromium-driver

chromium: $(CHROMIUM)

venv: $(VENV)/.installed $(SAM_VENV)/.installed $(CHROMIUM)

lint: venv security js-lint
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m mypy
	SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam validate --lint --template template.yaml --region us-east-1
	$(VENV)/bin/cfn-lint template.yaml statemachine/pipeline.yaml

# checkov pins its own dependency ranges (they clash with the SAM CLI's and ours), so it has a venv of its own.
# --skip-download: no network beyond the package registries; every skipped check has its reason in template.yaml.
CHECKOV_VENV := .venv-checkov
$(CHECKOV_VENV)/.installed:
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet 'checkov>=3.2,<4'
	touch $@

security: $(CHECKOV_VENV)/.installed
	$(CHECKOV_VENV)/bin/checkov --file template.yaml --file statemachine/pipeline.yaml --framework cloudformation --compact --quiet --skip-download

test-unit: venv
	$(PY) -m pytest tests/unit

test-integration: venv
	$(PY) -m pytest tests/integration

test-e2e: venv
	$(PY) -m pytest tests/e2e

# The environments, lint and the runtime-version checks build and run side by side (mostly installs, waiting on disk
# and the package index), then every test on every core.
test:
	$(MAKE) --jobs=4 --output-sync=target lint js-test test-glue test-sagemaker
	$(PY) -m pytest -n auto tests

# The mutation run: each mutant of tests/mutation/catalogue.py applied to a copy of this checkout, against the tests
# that must kill it (two workers, about 5 minutes on 2 cores). Fails if a behaviour-changing mutant survives or the
# catalogue no longer matches the code. Not part of `make test`. make mutation ARGS="--only writes."
mutation: $(VENV)/.installed
	$(PY) -m tests.mutation.runner $(ARGS)

# The Glue runtime check: the job's tests on Python 3.9 with the awswrangler Glue Python shell ships (2.15.1), in a
# venv of their own (the project's conftest needs the main venv's plugins, so --noconftest).
GLUE_PYTHON ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.9.*/bin/python) python3.9)
GLUE_VENV := .venv-glue
$(GLUE_VENV)/.installed: glue_jobs/requirements-glue-runtime.txt
	test -x $(GLUE_VENV)/bin/python || $(GLUE_PYTHON) -m venv $(GLUE_VENV)
	$(GLUE_VENV)/bin/pip install --quiet -r glue_jobs/requirements-glue-runtime.txt
	touch $@

test-glue: $(GLUE_VENV)/.installed
	$(GLUE_VENV)/bin/python -m pytest --noconftest -p no:cacheprovider tests/unit/pipeline/test_curate_reviews.py

# Checks against SageMaker's own code (tests/unit/sagemaker). .venv-sagemaker is the Hugging Face images' Python side at
# their versions (transformers 4.37.0 and the training image's 4.36.0, the training and inference toolkits, MMS; Python
# 3.11 and the on-disk CPU torch instead of the images' 3.10 and CUDA torch 2.1.0, see requirements-dlc.txt):
# `pytest tests` runs the training job and the inference container as its subprocesses.
# The launcher's sagemaker SDK pins protobuf and rich below ours, so its test runs in .venv-sagemaker-sdk.
DLC_VENV := .venv-sagemaker
SDK_VENV := .venv-sagemaker-sdk
$(DLC_VENV)/.installed: tests/unit/sagemaker/requirements-dlc.txt tests/unit/sagemaker/requirements-training-image.txt
	test -x $(DLC_VENV)/bin/python || $(PYTHON) -m venv $(DLC_VENV)
	$(DLC_VENV)/bin/pip install --quiet -r tests/unit/sagemaker/requirements-dlc.txt
	$(DLC_VENV)/bin/pip install --quiet --no-deps --upgrade --target $(DLC_VENV)/training-image \
		-r tests/unit/sagemaker/requirements-training-image.txt
	touch $@

$(SDK_VENV)/.installed: tests/unit/sagemaker/requirements-sdk.txt
	test -x $(SDK_VENV)/bin/python || $(PYTHON) -m venv $(SDK_VENV)
	$(SDK_VENV)/bin/pip install --quiet -r tests/unit/sagemaker/requirements-sdk.txt
	touch $@

test-sagemaker: $(DLC_VENV)/.installed $(SDK_VENV)/.installed
	$(SDK_VENV)/bin/python -m pytest --confcutdir=tests/unit/sagemaker -p no:cacheprovider \
		tests/unit/sagemaker/test_launcher_sdk.py

# The local model pipeline: seed raw reviews into S3 (moto), Glue ETL, train, evaluate -> var/model. A cached model
# of the same or a better profile is reused; FORCE=1 rebuilds; THREADS=N fixes the fine-tune's torch threads (default:
# the cores free when it starts). make model PROFILE=full THREADS=2
model: $(VENV)/.installed
	$(PY) -m local_runtime.model_pipeline --profile $(or $(PROFILE),quick) --out var/model $(if $(FORCE),--force) \
		$(if $(THREADS),--threads $(THREADS))

# The embedded default: the whole product on loopback, no AWS account, no Docker. Up at once: if no model is cached
# the pipeline trains in the background (GET /pipeline), the instant CPU model answers as soon as it is published and
# Start works once the GPU model is trained, with no restart.
# make demo KEEP_ALIVE=2m PROVISIONING_DELAY=30s NOTICE=1m INSTANT_TIER=always PORT=8000 PROFILE=quick ARGS="--no-dashboard"
# Every flag reads the variable of its name (--keep-alive: KEEP_ALIVE) and make hands the variables of its command line
# to the recipe's environment, so none is restated here: unset, a flag keeps its default (python -m local_runtime -h).
demo: $(VENV)/.installed
	$(PY) -m local_runtime $(ARGS)

# The developer dashboard (Streamlit) against the API at ONDEMAND_API_URL (default http://127.0.0.1:8000). Beside
# `make demo` it finds the runtime's token in var/local_runtime/runtime.json (or set ONDEMAND_LOCAL_TOKEN).
DASHBOARD_PORT ?= 8501
dashboard: $(VENV)/.installed
	$(VENV)/bin/streamlit run frontend/dashboard/app.py --server.headless=true --server.address=127.0.0.1 \
		--server.port=$(DASHBOARD_PORT) --browser.gatherUsageStats=false --client.toolbarMode=viewer

# The page's JavaScript (frontend/js): ESLint pinned in package-lock.json, unit tests on node's own runner (node >= 20.19).
.PHONY: js-lint js-test
node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "node >= 20.19 and npm are needed for the page's lint and unit tests"; exit 1; }
	npm ci --no-audit --no-fund
	touch $@

js-lint: node_modules/.installed
	npx --no-install eslint frontend tests/js eslint.config.js

js-test:
	node --test tests/js/

# Every benchmark once, on quick settings: a smoke run that prints figures. docs/measurements.md gives the
# full settings behind each of its numbers. bench_model_server makes the quick model first if none is cached.
bench: $(VENV)/.installed
	$(PY) benchmarks/bench_start.py --runs 1
	$(PY) benchmarks/bench_first_answer.py --runs 1 --baseline-delay 10s
	$(PY) benchmarks/bench_concurrent_start.py --callers 20 --runs 1
	$(PY) benchmarks/bench_model_server.py --texts 64 --rounds 1
	$(PY) benchmarks/soak.py --cycles 2
	$(PY) benchmarks/bench_instant.py
	$(PY) benchmarks/bench_cold_import.py --runs 3
	$(PY) -m benchmarks.bench_local_concurrency --trials 1
	$(PY) -m benchmarks.traffic_cost

# The stack on AWS from one command (docs/deploy.md): preflight, `sam build` and a non-interactive `sam deploy` from
# samconfig.toml, the page on S3 behind CloudFront, the first model, a smoke test. CONFIG_ENV=dev picks another profile;
# ARGS="--no-follow" does not wait for the training pipeline (python -m deploy -h).
deploy: $(VENV)/.installed $(SAM_VENV)/.installed
	$(PY) -m deploy deploy --sam $(SAM_VENV)/bin/sam --config-env $(or $(CONFIG_ENV),default) $(ARGS)

# Reopen an API the monthly ceiling (MonthlyBudgetUsd) closed: the stack's CeilingFunction restores the template's
# throttles and removes the page's service-closed.json (docs/deploy.md, "The ceiling on the bill").
reopen: $(VENV)/.installed
	$(PY) -m deploy reopen --config-env $(or $(CONFIG_ENV),default) $(ARGS)

# The endpoint stopped, what the functions and the pipeline made deleted, the buckets emptied, the stack deleted; fails
# if anything of it is left.
destroy: $(VENV)/.installed $(SAM_VENV)/.installed
	$(PY) -m deploy destroy --sam $(SAM_VENV)/bin/sam --config-env $(or $(CONFIG_ENV),default) $(ARGS)

# Every venv the rules above build, the deploy rehearsal's Lambda runtime venv and SAM's cache beside it, and the caches;
# var/model and the other trained models stay (they take minutes to rebuild).
clean:
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) $(GLUE_VENV) $(DLC_VENV) $(SDK_VENV) var/lambda-python3.13 var/sam-cache \
		node_modules frontend/node_modules .aws-sam .pytest_cache .ruff_cache .mypy_cache build *.egg-info
