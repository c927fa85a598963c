# fastdnn — the two commands of README's quick start, and a few more.
#   make train   set up .venv, build, install, train the seed's five-layer model
#   make test    set up .venv, build, install with test extras, run the tests
# Builds take a lock (.build.lock) so that parallel invocations never race.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
BUILD_DEPS := "setuptools>=68" wheel "Cython>=3.0.10" "numpy>=2.0" "scipy>=1.11"

.PHONY: train test build bench bench-train test-debug clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.build-deps: | $(BIN)/python
	$(PIP) install -q $(BUILD_DEPS)
	touch $@

# compile the extensions in place and install the package (editable) with its extras
build: $(VENV)/.build-deps
	flock .build.lock $(PIP) install -q --no-build-isolation -e '.[test]'

train: build
	$(BIN)/fastdnn train --layers 12288,20,7,5,1 --learning-rate 0.0075 --iterations 2500

test: build
	$(BIN)/python -m pytest -q

bench: build
	$(BIN)/python -m pytest bench -q --benchmark-only --benchmark-columns=min,median,mean --benchmark-group-by=group

bench-train: build
	$(BIN)/python bench/bench_training.py

# the test suite against a build with bounds checking on
test-debug: $(VENV)/.build-deps
	flock .build.lock env FASTDNN_DEBUG=1 $(PIP) install -q --no-build-isolation -e '.[test]'
	$(BIN)/python -m pytest -q tests; status=$$?; \
	flock .build.lock $(PIP) install -q --no-build-isolation -e '.[test]'; exit $$status

clean:
	rm -rf build *.egg-info fastdnn/*.c fastdnn/*.so .pytest_cache
