"""Structured logs (structlog) to stderr, at the level the settings ask for.

structlog's own loggers and the standard library's (the queue and workers log through
`logging`) share one renderer, and both carry the context bound with
`structlog.contextvars`: a request's `request_id`, a job's `job_id`. A render can then be
followed from the API replica that accepted it to the worker that ran it.
"""

from __future__ import annotations

import logging
import sys

import structlog

_SHARED: list[structlog.types.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.processors.add_log_level,
    structlog.processors.TimeStamper(fmt="iso"),
]


def configure(level: str) -> None:
    """Human-readable on a terminal, JSON lines otherwise (for log collectors)."""
    threshold = logging.getLevelNamesMapping().get(level.upper(), logging.WARNING)
    renderer: structlog.types.Processor = (
        structlog.dev.ConsoleRenderer()
        if sys.stderr.isatty()
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[*_SHARED, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*_SHARED, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger("reelforge")
    root.handlers[:] = [handler]
    root.setLevel(threshold)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
