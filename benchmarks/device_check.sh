#!/usr/bin/env bash
# The GPU checks in one script: the engine's contracts on the device (tests/gpu and the CUDA
# tests beside the CPU ones), W1 on the device, and W1 scaled to 1,000 members against the CPU
# engine (benchmarks/device_w1.py).
#
#   bash benchmarks/device_check.sh prepare   # here, with the network: wheels and data to carry
#   bash benchmarks/device_check.sh run       # on the GPU machine, from the repository's root
#
# `prepare` puts what a bare GPU machine with PyTorch lacks into two folders that git ignores
# locally (.whl: the wheels of the dependencies it may miss; .devdata: the MNIST files the CNN
# checks read from ../shared/data); carry both. `run` installs the wheels into /tmp/site when
# a dependency is missing, puts the data where the tests look, and writes every log under
# $OUT (or ./device-logs). EPOCHS and CPU_MEMBERS shorten the 1,000-member benchmark.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}

prepare() {
    grep -qx '/.whl/' .git/info/exclude || echo '/.whl/' >>.git/info/exclude
    grep -qx '/.devdata/' .git/info/exclude || echo '/.devdata/' >>.git/info/exclude
    mkdir -p .whl .devdata
    cp ../shared/data/mnist-t10k-*.gz .devdata/
    local platforms=()
    for p in manylinux_2_28_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64; do
        platforms+=(--platform "$p")
    done
    for pkg in "SQLAlchemy>=2.0" "greenlet>=3" "typing_extensions>=4.6"; do
        .venv/bin/python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
            --implementation cp "${platforms[@]}" -d .whl "$pkg" || exit 1
    done
    du -sh .whl .devdata
}

run() {
    local out=${OUT:-device-logs}
    mkdir -p "$out"
    if ! "$PY" -c "import sqlalchemy" 2>/dev/null && compgen -G ".whl/*.whl" >/dev/null; then
        "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target /tmp/site .whl/*.whl || exit 1
        export PYTHONPATH=/tmp/site
    fi
    export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
    if [ -d .devdata ] && [ ! -e ../shared/data/mnist-t10k-labels-idx1-ubyte.gz ]; then
        mkdir -p ../shared/data && cp .devdata/* ../shared/data/
    fi
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
    local status=0
    "$PY" -m pytest -p no:cacheprovider -o addopts="" -q -x tests/gpu \
        tests/engine/test_train.py tests/training/test_trainer.py -k "cuda or device" 2>&1 |
        tee "$out/contracts.log" || status=1
    "$PY" benchmarks/engine_w1.py --device cuda --skip-loop 2>&1 | tee "$out/w1_cuda.log" ||
        status=1
    "$PY" benchmarks/device_w1.py --epochs "${EPOCHS:-100}" --cpu-members "${CPU_MEMBERS:-200}" \
        2>&1 | tee "$out/device_w1.log" || status=1
    return $status
}

case "${1:-}" in
    prepare) prepare ;;
    run) run ;;
    *) echo "usage: bash benchmarks/device_check.sh prepare|run" >&2; exit 2 ;;
esac
