# The README's two commands. Both install into .venv first (from .ci/install), so they work on a fresh clone.
.PHONY: demo demo-openai test install bench protos

VENV_STAMP := .venv/.installed

$(VENV_STAMP): pyproject.toml .ci/install
	.ci/install
	touch $(VENV_STAMP)

install: $(VENV_STAMP)

## Run the demo experiment (risk-seeking vs risk-averse on SmolLM2-135M) on the embedded local stack.
demo: $(VENV_STAMP)
	.venv/bin/selfaware run examples/risk.yaml

## The same spec evaluated through the local OpenAI-compatible server (started and stopped around the run);
## writes bench/demo-openai-report/ and the "demo_openai" entry of bench/results.json.
demo-openai: $(VENV_STAMP)
	.venv/bin/python -m bench.run --only demo-openai

## Run every test: unit, service (real NATS + gRPC) and slow (real model, real vLLM). Three workers on the two
## cores, a test file each at a time (module fixtures such as a vLLM engine stay in one process): the chaos and
## end-to-end tests mostly wait on leases, restarts and child processes, so the other workers use the CPU
## meanwhile (7 Dec, `time` CPU over wall: two workers kept the cores 58% busy (1,002 s), three 93% (807 s, with
## warm caches and the Make Me Say tests added)).
test: $(VENV_STAMP)
	.venv/bin/python -m pytest -n 3 --dist loadfile --durations=25

## Regenerate the selfaware.v1 stubs after editing proto/.
protos: $(VENV_STAMP)
	.venv/bin/python -m selfaware.protogen

## Run the benchmarks and write bench/results.json (see bench/README.md).
bench: $(VENV_STAMP)
	.venv/bin/python -m bench.run
