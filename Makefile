# Two entry points: `make demo` and `make test`. Both create .venv themselves.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
DEMO_OUT ?= demo-output

.PHONY: demo test test-fast test-arm bench venv clean firmware screenshots commission-demo

venv: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11+ or run 'make PYTHON=python3 ...'"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[train,edge,dev]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

demo: venv
	$(PY) -m demo --out $(DEMO_OUT)

test: venv
	bash .ci/system-packages.sh
	$(PY) -m pytest

test-fast: venv
	$(PY) -m pytest -m "not slow"

# The edge side in an emulated Raspberry Pi OS userland (Debian 12; root with apt): ARCH=arm64 or armhf.
ARCH ?= arm64
test-arm: venv
	bash .ci/arm-edge.sh $(ARCH)

# The reference RP2040 firmware (UF2 in firmware_io/protocol/firmware/rp2040/build/): needs gcc-arm-none-eabi.
firmware:
	$(MAKE) -C firmware_io/protocol/firmware/rp2040

bench: venv
	$(VENV)/bin/bearing-bench

# Commissioning rehearsed off the Pi on data that ships (docs/commissioning.md): learn, export, fit, convert,
# reload, score; every command printed as it runs. COMMISSION_OUT is replaced when it holds an earlier rehearsal.
COMMISSION_OUT ?= commission-output
commission-demo: venv
	$(PY) -m demo.commission --out $(COMMISSION_OUT)

# The status page's screenshots in docs/img, from a clean run of the real agent on the demo's bundle
# (run `make demo` first; needs Chromium and chromedriver, which `make test` installs as root).
screenshots: venv
	$(PY) -m tests.support.docs_screenshots --bundle $(DEMO_OUT)/bundle --out docs/img

# What `make demo` and `pip install .` leave behind: the venv, the demo's output, setuptools' build/ and
# the demo's tflite-runtime environment in the user's cache (docs/convert.md), 111 MB.
BUILD_DIR ?= build
PYTEST_CACHE ?= .pytest_cache
CACHE_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/bearing-edge
clean:
	rm -rf $(VENV) $(DEMO_OUT) $(COMMISSION_OUT) $(PYTEST_CACHE) $(BUILD_DIR) $(CACHE_DIR)
