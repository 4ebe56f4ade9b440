"""Structured logs (structlog). Certificate numbers and names never reach a log line (I3)."""

from __future__ import annotations

import logging
import re
import sys

import structlog

_CERTNO = re.compile(r"\b(\d{6})\d{8}(\d{3}[\dXx])\b")


def mask_certno(text: str) -> str:
    """410802195501011234 -> 410802********1234 (the interface's masking rule)."""
    return _CERTNO.sub(lambda m: f"{m.group(1)}********{m.group(2)[-4:] if len(m.group(2)) == 4 else m.group(2)}", text)


_SENSITIVE_KEYS = {"certno", "psn_name", "name", "mdtrt_cert_no", "password", "secret"}


def _scrub(_, __, event_dict: dict) -> dict:
    for key in list(event_dict):
        if key in _SENSITIVE_KEYS:
            event_dict[key] = "***"
        elif isinstance(event_dict[key], str):
            event_dict[key] = mask_certno(event_dict[key])
    return event_dict


def configure_logging(level: str = "INFO", json: bool = False) -> None:
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=getattr(logging, level.upper(), logging.INFO))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            _scrub,
            structlog.processors.JSONRenderer(ensure_ascii=False) if json else structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper(), logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )


def get_logger(name: str = "yidi"):
    return structlog.get_logger(name)
