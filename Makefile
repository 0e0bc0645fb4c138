# tmspio — every target bootstraps .venv when it is missing, so a fresh clone needs only `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
PORT    ?=
PYTEST_ARGS ?=

# Cross-check tools are installed without their (irrelevant, heavy) dependency trees.
NODEPS  := adafruit-circuitpython-pioasm==1.3.8 rp2040-pio-emulator==0.88.0

.PHONY: install test test-rp2 lint demo test-hw bench firmware-check deploy dist clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,lsl]'
	$(BIN)/pip install --quiet --no-deps $(NODEPS)
	touch $(STAMP)

# Every firmware file must compile with mpy-cross (real MicroPython) and CPython's compile().
firmware-check: $(STAMP)
	$(BIN)/python -m tmspio.tools.firmware_check firmware host/tmspio/emulator/mpy

test: $(STAMP) lint firmware-check
	$(BIN)/python -m pytest --ignore=tests/rp2 $(PYTEST_ARGS)

# The unchanged firmware on the real MicroPython rp2 port: TMSPIO_RP2_IMAGE names a Pico .uf2
# (the one users flash), booted in rp2040py; docs/emulator.md "The real port". ~5-10 min.
test-rp2: $(STAMP) firmware-check
	@if [ -z "$$TMSPIO_RP2_IMAGE" ]; then \
		echo "test-rp2: skipped: TMSPIO_RP2_IMAGE is not set (point it at a MicroPython .uf2 for the Pico)"; \
	else \
		$(BIN)/python -m pytest tests/rp2 $(PYTEST_ARGS); \
	fi

lint: $(STAMP)
	$(BIN)/ruff check host tests bench firmware examples
	$(BIN)/ruff format --check host tests bench firmware examples

demo: $(STAMP)
	$(BIN)/tmspio run itbs --emulator --speed max --out runs/demo-itbs

test-hw: $(STAMP)
	TMSPIO_HW_PORT='$(PORT)' $(BIN)/python -m pytest tests/hw -v

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

deploy: $(STAMP)
	$(BIN)/tmspio deploy $(if $(PORT),--port $(PORT),)

# The sdist, then the wheel built from it (firmware/ and boards/ inside as tmspio/device/), offline.
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --no-isolation --outdir dist .

clean:
	rm -rf $(VENV) build dist *.egg-info host/*.egg-info .pytest_cache .ruff_cache
