"""Start the fine-tuning façade: `python -m services.trainer.facade --model DIR --data-dir DIR --inference-url URL`.

It prints "listening on http://HOST:PORT/v1" once it accepts requests (`--port 0` picks a free port).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from selfaware.logs import configure_logging
from selfaware.models import resolve_base_model
from selfaware.openai_http import serve
from selfaware.v1 import spec_pb2
from services.trainer.facade.http_api import FacadeApi, FacadeServer
from services.trainer.facade.inference import InferenceProxy
from services.trainer.facade.jobs import FacadeSettings, FineTuning


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="An OpenAI-compatible fine-tuning API over the peft backend.")
    parser.add_argument("--model", required=True,
                        help="the base model: a transformers directory, or a hub id (HuggingFaceTB/SmolLM2-135M-"
                             "Instruct resolves offline to the packaged copy, as the trainer does)")
    parser.add_argument("--data-dir", type=Path, required=True,
                        help="files, job records and trained adapters (the inference server must read it)")
    parser.add_argument("--inference-url", required=True,
                        help="an OpenAI-compatible server with vLLM's /v1/load_lora_adapter that serves the base "
                             "model under --served-name, e.g. http://127.0.0.1:8011/v1")
    parser.add_argument("--served-name", default=None, help="the base model's name in requests (default: --model)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8012, help="0 picks a free port (printed on stdout)")
    parser.add_argument("--learning-rate", type=float, default=1e-3,
                        help="the rate a learning_rate_multiplier of 1 means")
    parser.add_argument("--lora-rank", type=int, default=8, help="LoRA rank (alpha is twice it; all linear layers)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads for training (0: torch's choice)")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    configure_logging("finetune-facade", args.log_level)
    data_dir = args.data_dir.expanduser()
    is_dir = Path(args.model).expanduser().is_dir()
    base = spec_pb2.BaseModel(path=args.model) if is_dir else spec_pb2.BaseModel(name=args.model)
    settings = FacadeSettings(Path(resolve_base_model(base, data_dir)), args.served_name or args.model,
                              args.learning_rate, args.lora_rank, args.threads)
    fine_tuning = FineTuning(data_dir, settings)
    server = FacadeServer((args.host, args.port), FacadeApi(fine_tuning, InferenceProxy(args.inference_url)))
    serve(server, fine_tuning.close)


if __name__ == "__main__":
    main()
