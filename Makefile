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

## Run every test: unit, service (real NATS + gRPC) and slow (real model, real vLLM). Two workers, a test file
## each at a time (module fixtures such as a vLLM engine stay in one process): the chaos and end-to-end tests
## mostly wait on leases, restarts and subprocesses, so the other worker uses the CPU meanwhile.
test: $(VENV_STAMP)
	.venv/bin/python -m pytest -n 2 --dist loadfile --durations=25

## Regenerate the selfaware.v1 stubs after editing proto/.
protos: $(VENV_STAMP)
	.venv/bin/python -m selfaware.protogen

## Run the benchmarks and write bench/results.json (see bench/README.md).
bench: $(VENV_STAMP)
	.venv/bin/python -m bench.run
