#!/usr/bin/env bash
# Builds the selfaware images without a registry, runs every service's container and checks its gRPC health from
# outside. Prints each step's time and the image sizes; exits non-zero on the first failure.
#
#   deploy/images/build.sh [--cuda] [--keep-wheels] [--check-only]
#
# Steps: 1. a Debian bookworm base from Debian's packages (mmdebstrap, then `podman import`);
# 2. the wheelhouse: every wheel of the locks (deploy/images/requirements-*.txt, made by lock.sh), downloaded and
#    hash-checked here, plus the project's wheel built from the work tree; 3. the images (Containerfile targets);
# 4. checks inside them: uid 10001, the imports, no ML stack in slim; 5. a NATS server (the dev venv's
#    nats-server) and the four services' containers, hardened as the pods are (read-only root, uid 10001, no
#    capabilities, deploy/k8s/base/selfaware.env), each checked with the standard gRPC health service from this
#    host, then stopped with SIGTERM, which must end it with status 0.
#
# Needs, and installs none of it: podman, mmdebstrap and runc (Debian: `apt-get install -y podman mmdebstrap
# runc`), run as root; the dev venv (VENV, default .venv, from .ci/install) for pip, the project's wheel and the
# health check (selfaware.client.wait_serving, grpcio-health-checking). Podman uses runc: this machine's crun
# fails on its hybrid cgroups. Disk: up to 25 GB while it runs (build-output.txt), 5.4 GB of images after.
# --cuda also builds the cuda target (several GB of CUDA wheels) and checks its imports; its services are not
# run (no GPU). --check-only skips steps 1-3 and checks the images built before.
# Logs of every step: deploy/images/.build/logs/. Images: localhost/selfaware-{slim,cpu,cuda}:TAG.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=deploy/images
VENV=${VENV:-.venv}
TAG=${TAG:-$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)}
BASE=localhost/debian-base:bookworm
CUDA=0
KEEP_WHEELS=0
CHECK_ONLY=0
for arg in "$@"; do
  case $arg in
    --cuda) CUDA=1 ;;
    --keep-wheels) KEEP_WHEELS=1 ;;
    --check-only) CHECK_ONLY=1 ;;
    *) echo "usage: $0 [--cuda] [--keep-wheels] [--check-only]" >&2; exit 2 ;;
  esac
done
targets=(slim cpu)
[ "$CUDA" = 1 ] && targets+=(cuda)
podman() { command podman --runtime runc "$@"; }
build=$here/.build
logs=$build/logs
rm -rf "$build/context" "$logs"
mkdir -p "$build/context/wheels" "$logs"

timings=()
# The least free disk during the run, sampled: start minus it bounds the peak this run used (the machine may be
# shared, so others' use counts too).
disk_start=$(df --output=avail -B1M / | tail -1)
( while sleep 5; do df --output=avail -B1M / | tail -1; done ) >"$logs/disk-free-mb.log" &
sampler=$!
trap 'kill "$sampler" 2>/dev/null || true' EXIT
step() {  # step NAME COMMAND...: runs it with its output in $logs/NAME.log; on failure prints the log's tail
  local name=$1 started=$SECONDS
  shift
  printf '%-28s ' "$name"
  if "$@" >"$logs/$name.log" 2>&1; then
    printf 'ok   %4d s\n' $((SECONDS - started))
    timings+=("$name $((SECONDS - started))")
  else
    printf 'FAILED after %d s; the end of %s:\n' $((SECONDS - started)) "$logs/$name.log"
    tail -n 40 "$logs/$name.log" | sed 's/^/    /'
    exit 1
  fi
}

echo "selfaware images: build.sh run of $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!deploy/images/build-output.txt' || echo ' (work tree has changes)'), tag $TAG, targets: ${targets[*]}"
echo "host: $(. /etc/os-release; echo "$PRETTY_NAME"), $(nproc) CPUs, podman $(command podman --version | cut -d' ' -f3)," \
  "mmdebstrap $(mmdebstrap --version | cut -d' ' -f2), runc $(runc --version | sed -n 's/^runc version //p')"
for tool in podman mmdebstrap runc; do
  command -v $tool >/dev/null || { echo "$tool is missing: apt-get install -y podman mmdebstrap runc" >&2; exit 1; }
done
[ -x "$VENV/bin/python" ] || { echo "no dev venv at $VENV: run .ci/install, or set VENV" >&2; exit 1; }
echo

# 1. The base: Debian's own packages, from its mirror, with the security updates.
base() {
  rm -f "$build/rootfs.tar"
  nice -n 10 mmdebstrap --variant=minbase --include=ca-certificates bookworm "$build/rootfs.tar" \
    "deb http://deb.debian.org/debian bookworm main" \
    "deb http://deb.debian.org/debian bookworm-updates main" \
    "deb http://deb.debian.org/debian-security bookworm-security main"
  podman rmi --force "$BASE" 2>/dev/null || true
  podman import --change 'CMD ["/bin/bash"]' "$build/rootfs.tar" "$BASE"
  rm -f "$build/rootfs.tar"
}
if [ "$CHECK_ONLY" = 0 ]; then
step base-mmdebstrap-import base

# 2. The wheelhouse. pip checks every file against the lock's hashes; --only-binary because nothing is built in
#    the images (no compiler there).
wheels() {
  for target in "${targets[@]}"; do
    nice -n 10 "$VENV/bin/python" -m pip download --disable-pip-version-check --no-deps --require-hashes --only-binary=:all: \
      -r "$here/requirements-$target.txt" -d "$build/context/wheels"
    cp "$here/requirements-$target.txt" "$build/context/"
  done
  "$VENV/bin/python" -m pip wheel --disable-pip-version-check --no-deps --no-build-isolation \
    -w "$build/context/wheels" .
  cp "$here/install.sh" "$build/context/"
}
step wheelhouse wheels
echo "  wheelhouse: $(ls "$build/context/wheels" | wc -l) wheels, $(du -sh "$build/context/wheels" | cut -f1)"

# 3. The images. --network host: the apt-get steps reach Debian's mirror; pip reaches nothing (--no-index).
build_image() {
  nice -n 10 podman --runtime runc build --network host --build-arg "BASE=$BASE" -f "$here/Containerfile" \
    --target "$1" -t "localhost/selfaware-$1:$TAG" "$build/context"
}
for target in "${targets[@]}"; do
  step "image-$target" build_image "$target"
done
fi

# 4. Inside each image: who it runs as, what it can import, and (slim) what it must not contain.
# Every container runs hardened as the pods are (deploy/k8s/base/hardening.yaml). The explicit limits: podman
# asks by default for more open files than this host's hard limit (20000), and here runc may not raise a limit
# (no CAP_SYS_RESOURCE in the sandbox's bounding set), so a container would not start. Nodes set their own.
hardened=(--read-only --cap-drop all --security-opt no-new-privileges
          --ulimit nofile=16384:16384 --ulimit nproc=16384:16384)
in_image() {  # in_image TARGET COMMAND...
  local target=$1
  shift
  podman run --rm "${hardened[@]}" "localhost/selfaware-$target:$TAG" "$@"
}
check_slim() {
  [ "$(in_image slim id -u):$(in_image slim id -g)" = "10001:10001" ]
  in_image slim python -c '
import importlib.util, sys
import services.aggregator.main, services.generator.main
present = [m for m in ("torch", "vllm", "peft", "transformers", "accelerate") if importlib.util.find_spec(m)]
assert not present, f"the slim image has {present}"
heavy = [m for m in sys.modules if m.split(".")[0] in ("torch", "vllm", "peft", "transformers")]
assert not heavy, heavy
print("slim: aggregator and generator import; torch, vllm, peft, transformers, accelerate absent")'
}
check_ml() {
  local target=$1
  [ "$(in_image "$target" id -u):$(in_image "$target" id -g)" = "10001:10001" ]
  in_image "$target" python -c '
import peft, torch, transformers, vllm
import services.trainer.main, services.evaluator.main
from selfaware.models import packaged_smollm2
print("'"$target"': torch", torch.__version__, "| vllm", vllm.__version__, "| peft", peft.__version__,
      "| transformers", transformers.__version__, "| tiny model:", packaged_smollm2())'
}
step check-slim check_slim
sed 's/^/  /' "$logs/check-slim.log"
for target in "${targets[@]:1}"; do
  step "check-$target" check_ml "$target"
  sed 's/^/  /' "$logs/check-$target.log"
done

# 5. The services, against one NATS, on this host's network (podman's bridge is not needed for a health check).
free_port() { "$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
nats_dir=$(mktemp -d)
nats_port=$(free_port)
containers=()
cleanup() {
  for c in "${containers[@]}"; do podman rm --force --time 0 "$c" >/dev/null 2>&1 || true; done
  [ -n "${nats_pid:-}" ] && kill "$nats_pid" 2>/dev/null || true
  rm -rf "$nats_dir"
  kill "$sampler" 2>/dev/null || true
}
trap cleanup EXIT
"$VENV/bin/nats-server" -js -a 127.0.0.1 -p "$nats_port" -sd "$nats_dir" >"$logs/nats.log" 2>&1 &
nats_pid=$!
run_service() {  # run_service SERVICE IMAGE_TARGET: start it, wait for SERVING from outside, SIGTERM, exit 0
  local service=$1 target=$2 port metrics_port=0 metrics=() name="selfaware-check-$1"
  port=$(free_port)
  # When the shared env turns metrics on, each container here needs its own port (they share the host network).
  if grep -q '^SELFAWARE_METRICS_PORT=' deploy/k8s/base/selfaware.env; then
    metrics_port=$(free_port)
    metrics=(-e "SELFAWARE_METRICS_PORT=$metrics_port")
  fi
  podman rm --force --time 0 "$name" >/dev/null 2>&1 || true
  containers+=("$name")
  podman run -d --name "$name" --network host "${hardened[@]}" \
    --tmpfs /var/lib/selfaware:rw,mode=1777 --env-file deploy/k8s/base/selfaware.env \
    -e "SELFAWARE_NATS_URL=nats://127.0.0.1:$nats_port" -e SELFAWARE_GRPC_HOST=127.0.0.1 \
    -e "SELFAWARE_GRPC_PORT=$port" "${metrics[@]}" "localhost/selfaware-$target:$TAG" python -m "services.$service"
  local started=$SECONDS
  if ! PYTHONPATH=. "$VENV/bin/python" -c "import asyncio, sys; from selfaware.client import wait_serving
asyncio.run(wait_serving(sys.argv[1], 180.0))" "127.0.0.1:$port"; then
    podman logs --tail 30 "$name"
    return 1
  fi
  echo "$service ($target image) SERVING on 127.0.0.1:$port after $((SECONDS - started)) s"
  if [ "$metrics_port" != 0 ]; then  # the Prometheus endpoint the pods' scrape annotations name
    "$VENV/bin/python" -c "import sys, urllib.request
text = urllib.request.urlopen(f'http://127.0.0.1:{sys.argv[1]}/metrics', timeout=10).read().decode()
assert 'selfaware_handlers_in_flight{' in text, text[:300]
print(f'  metrics on :{sys.argv[1]}: {sum(1 for line in text.splitlines() if line.startswith(\"selfaware_\"))} selfaware_ samples')" \
      "$metrics_port" || { podman logs --tail 30 "$name"; return 1; }
  fi
  podman stop --time 45 "$name" >/dev/null
  local status
  status=$(podman inspect --format '{{.State.ExitCode}}' "$name")
  podman logs "$name" >"$logs/$service-container.log" 2>&1
  [ "$status" = 0 ] || { echo "$service exited with $status on SIGTERM"; tail -n 20 "$logs/$service-container.log"; return 1; }
  echo "$service stopped on SIGTERM with status 0"
}
step nats-server "$VENV/bin/python" -c "import asyncio; from selfaware.cli.stack import wait_port
asyncio.run(wait_port($nats_port, 15.0))"
for service in aggregator:slim generator:slim trainer:cpu evaluator:cpu; do
  step "run-${service%%:*}" run_service "${service%%:*}" "${service##*:}"
  sed 's/^/  /' "$logs/run-${service%%:*}.log" | grep -E "SERVING|status|metrics"
done
if [ "$CUDA" = 1 ]; then
  echo "cuda: the image is built and its imports checked; its services were not run (no GPU here)"
else
  echo "cuda: not built (build.sh --cuda builds it). Its lock holds CUDA torch 2.13.0, 26 nvidia-* wheels," \
    "triton, flashinfer and vllm: by estimate two to three times the cpu image's venv, whose build took the" \
    "disk use below at its peak (the venv layer, its copy into the final image, the copy's temporary files)." \
    "That is more than this shared machine's free disk can spare."
fi

echo
echo "images:"
for target in "${targets[@]}"; do
  podman image ls --format '  {{.Repository}}:{{.Tag}}  {{.Size}}' "localhost/selfaware-$target:$TAG"
done
echo "steps (s): ${timings[*]}"
kill "$sampler" 2>/dev/null || true
disk_min=$(sort -n "$logs/disk-free-mb.log" | head -1)
echo "disk: $((disk_start / 1024)) GB free at the start, $(((disk_start - ${disk_min:-$disk_start}) / 1024)) GB used at the" \
  "peak of this run, $(($(df --output=avail -B1M / | tail -1) / 1024)) GB free before the clean-up"
if [ "$KEEP_WHEELS" = 0 ]; then
  rm -rf "$build/context"
  podman image prune --force >/dev/null  # the build stages' dangling layers
fi
echo "build.sh: all steps passed"
