"""structlog, configured once per process: JSON when stderr is not a terminal, console output when it is.

stdlib loggers (grpc, nats, vllm, transformers) go through the same renderer, and every line, tracebacks included,
is redacted just before it is rendered (`selfaware.redact`). Handlers bind experiment and job
ids with `bind_context`, which clears the previous handler's context first.
"""

from __future__ import annotations

import logging
import sys

import structlog

from selfaware.redact import redact_event


def configure_logging(service: str, level: str = "info", fmt: str = "auto") -> None:
    """Route structlog and stdlib logging through one renderer, and bind the service name."""
    json_output = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer = structlog.processors.JSONRenderer() if json_output else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact_event,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("nats", "grpc", "transformers", "vllm", "httpx", "httpx2", "openai", "filelock"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)


def bind_context(**values: object) -> None:
    """Start a new unit of work (an RPC or an event): keep the service name, replace everything else."""
    service = structlog.contextvars.get_contextvars().get("service")
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service, **{k: v for k, v in values.items() if v not in (None, "")})
