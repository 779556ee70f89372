# technob-fx: `make demo` sets everything up and runs the demo; `make test` runs the test suite.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PIP    := $(PY) -m pip install --disable-pip-version-check -q -c constraints.txt

.PHONY: demo test lint bench bench-deps bench-accuracy system-deps clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q --upgrade pip
	$(PIP) torch==2.13.0
	$(PIP) -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/technob demo

test: $(STAMP)
	$(PY) -m pytest -q -ra

lint: $(STAMP)
	$(VENV)/bin/ruff check technob_fx bridge tests benchmarks training

bench: $(STAMP)
	$(PY) -m benchmarks

# Peers of the benchmarks (the bench extra: madmom, essentia, mir_eval, onnxruntime...);
# basic-pitch without its dependencies (no TensorFlow).
bench-deps: $(STAMP)
	$(PIP) -e ".[test,bench]"
	$(PIP) --no-deps basic-pitch==0.4.0

# The recorded accuracy runs: every group present, every peer, nothing from the cache; 30-second
# fixtures (results/accuracy.*, about 4 min) and full-length ones (results/accuracy-full.*, 12 min).
bench-accuracy: bench-deps
	$(PY) -m benchmarks.datasets build
	nice -n 10 $(PY) -m benchmarks.bench_accuracy --quick --no-cache
	nice -n 10 $(PY) -m benchmarks.bench_accuracy --no-cache

# Optional system programs: rubberband (pyrubberband engine), liblo-tools (a real OSC peer in
# tests), chromium (the browser the report page is tested in, driven by Playwright) and real VST3
# plugins for the plugin tests (.ci/install-vst3.sh). Tests that need them skip when absent.
# Needs root (CI is root).
system-deps:
	@if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  (command -v rubberband >/dev/null && command -v oscdump >/dev/null && command -v chromium >/dev/null) || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rubberband-cli liblo-tools chromium >/dev/null); \
	  (command -v fluidsynth >/dev/null && [ -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ]) || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    fluidsynth fluid-soundfont-gm >/dev/null); \
	else echo "system-deps: skipped (needs apt-get and root)"; fi
	@bash .ci/install-vst3.sh

clean:
	rm -rf $(VENV) technob-demo .pytest_cache
