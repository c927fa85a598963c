# fastdnn — the two commands of README's quick start, and a few more.
#   make train   set up .venv, build, install, train the seed's five-layer model
#   make test    set up .venv, build, install with test extras, run the tests
# Builds take a lock (.build.lock) so that parallel invocations never race.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
BUILD_DEPS := "setuptools>=77" wheel "Cython>=3.0.10" "numpy>=2.0" "scipy>=1.11"

.PHONY: train test build bench bench-train bench-sklearn bench-course2 test-debug test-asan clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.build-deps: | $(BIN)/python
	$(PIP) install -q $(BUILD_DEPS)
	touch $@

# compile the extensions in place and install the package (editable) with its extras
build: $(VENV)/.build-deps
	flock .build.lock $(PIP) install -q --no-build-isolation -e '.[test]'

# the course data: $FASTDNN_DATA, else a workplace copy in ../shared/datasets beside the
# repository, else fastdnn's own search (datasets/, then a generated stand-in)
SHARED_DATA := $(wildcard ../shared/datasets/train_catvnoncat.h5)
ifeq ($(origin FASTDNN_DATA),undefined)
ifneq ($(SHARED_DATA),)
export FASTDNN_DATA := $(abspath ../shared/datasets)
endif
endif

train: build
	$(BIN)/fastdnn train --layers 12288,20,7,5,1 --learning-rate 0.0075 --iterations 2500

test: build
	$(BIN)/python -m pytest -q

# fastdnn vs numpy per function and size, the ratio table (bench/ratios.py), and the
# loop/BLAS crossover behind SMALL_GEMM_FLOPS (bench/bench_gemm.py).  BLAS runs on
# BENCH_BLAS_THREADS threads for both sides (default 1: on a shared 2-core machine,
# multi-threaded OpenBLAS latencies swing 100x with the other load).
BENCH_BLAS_THREADS ?= 1
bench: build
	mkdir -p .benchmarks
	OPENBLAS_NUM_THREADS=$(BENCH_BLAS_THREADS) $(BIN)/python -m pytest bench/bench_functions.py -q -p no:cacheprovider --benchmark-only \
		--benchmark-columns=min,median,mean --benchmark-group-by=group \
		--benchmark-warmup=on --benchmark-disable-gc \
		--benchmark-json=.benchmarks/functions.json
	$(BIN)/python bench/ratios.py .benchmarks/functions.json
	OPENBLAS_NUM_THREADS=$(BENCH_BLAS_THREADS) $(BIN)/python bench/bench_gemm.py --large | tail -10

bench-train: build
	$(BIN)/python bench/bench_training.py

# fastdnn.MLPClassifier / MLPRegressor against scikit-learn (and the products alone)
bench-sklearn: build
	$(PIP) install -q 'mlxtend>=0.23'
	$(BIN)/python bench/bench_sklearn.py

# course 2's headline runs against the numpy version of the course's code
bench-course2: build
	$(BIN)/python bench/bench_course2.py

# the test suite against a build with bounds checking on (FASTDNN_DEBUG=1, -O0 -g) --
# less scikit-learn's own test module and the Dask cluster tests, which run the same
# compiled paths as the engine's tests in subprocesses and would double CI's time --
# compiled in a copy of the working tree (build/debug): the in-place release
# build that `make test`, `make bench` and parallel runs use is never touched.
DATA_DIR := $(abspath ../shared/datasets)
define debug_tree
	rm -rf $(1) && mkdir -p $(1)
	tar -cf - --exclude=./.venv --exclude=./build --exclude=./.git --exclude='*.so' \
	  --exclude='./fastdnn/*.c' --exclude='./fastdnn/_core/*.c' --exclude='__pycache__' --exclude=./.hypothesis . \
	  | tar -xf - -C $(1)
	cd $(1) && FASTDNN_DEBUG=$(2) $(CURDIR)/$(BIN)/python setup.py -q build_ext --inplace
	cd $(1) && $(3) PYTHONPATH=$(CURDIR)/$(1) $(CURDIR)/$(BIN)/python -c \
	  "import fastdnn._kernels as k, os; assert os.path.dirname(os.path.dirname(k.__file__)) == os.getcwd(), k.__file__"
endef

test-debug: build
	$(call debug_tree,build/debug,1,)
	cd build/debug && FASTDNN_DATA=$${FASTDNN_DATA:-$(DATA_DIR)} PYTHONPATH=$(CURDIR)/build/debug \
	  $(CURDIR)/$(BIN)/python -m pytest -q -p no:cacheprovider tests \
	  --ignore=tests/test_sklearn_upstream.py -m "not dask"

# the same with AddressSanitizer (FASTDNN_DEBUG=asan), which also checks the engine's
# raw-pointer loops.  Left out: what ASan cannot run preloaded into a plain Python
# (C++ exceptions of matplotlib: the plotting tests, the v2 helper models that plot;
# and of the CLI's subprocesses), the runner
# self-tests (ASan turns the deliberate SIGSEGV into an abort), the re-sealed
# model files (HDF5 asks ASan's allocator for more than it allows), the Ctrl-C
# test (its timing does not survive ASan's slowdown), the flat-memory test (ASan's
# quarantine keeps freed memory) and the CLI run through the sandbox (matplotlib in
# the child).  allocator_may_return_null: an impossible allocation (the bad-input
# matrix's huge layers, in scikit-learn's own estimator) is a MemoryError, as without
# ASan, not an abort.
ASAN_ENV = LD_PRELOAD=$$($${CC:-gcc} -print-file-name=libasan.so) \
  ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1
test-asan: build
	$(call debug_tree,build/asan,asan,$(ASAN_ENV))
	cd build/asan && $(ASAN_ENV) FASTDNN_DATA=$${FASTDNN_DATA:-$(DATA_DIR)} \
	  PYTHONPATH=$(CURDIR)/build/asan $(CURDIR)/$(BIN)/python -m pytest -q -p no:cacheprovider \
	  tests --ignore=tests/test_cli.py --ignore=tests/test_sklearn_upstream.py -m "not dask" \
	  -k "not isPlot and not runner and not resealed and not ctrl_c and not v2_models \
	      and not runs_flat and not cli_evaluates"

clean:
	rm -rf build *.egg-info fastdnn/*.c fastdnn/*.so fastdnn/_core/*.c fastdnn/_core/*.so .pytest_cache
