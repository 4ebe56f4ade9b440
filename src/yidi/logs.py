"""Structured logs (structlog). Certificate numbers and names never reach a log line (I3).

A fault is logged as ONE bounded line: the exception's type, its message cut to ``MAX_ERROR_CHARS`` and the
innermost frame (file:line) — never a traceback and never local variables. structlog's console renderer would
otherwise print a rich traceback *with every frame's locals* when rich is installed (it is: the CLI uses it),
which wrote ``Settings(secret_key=…)`` and hospital secrets into the log and took seconds per fault. The same
flattening is applied to stdlib records (uvicorn's "Exception in ASGI application").
"""

from __future__ import annotations

import logging
import re
import sys
import traceback

import structlog

_CERTNO = re.compile(r"\b(\d{6})\d{8}(\d{3}[\dXx])\b")


def mask_certno(text: str) -> str:
    """410802195501011234 -> 410802********1234 (the interface's masking rule)."""
    return _CERTNO.sub(lambda m: f"{m.group(1)}********{m.group(2)[-4:] if len(m.group(2)) == 4 else m.group(2)}", text)


_SENSITIVE_KEYS = {"certno", "psn_name", "name", "mdtrt_cert_no", "password", "secret"}


def _masked(value):
    """Certificate numbers masked wherever they sit: strings, and strings inside lists, tuples and dicts."""
    if isinstance(value, str):
        return mask_certno(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_masked(item) for item in value)
    if isinstance(value, dict):
        return {_masked(k): ("***" if k in _SENSITIVE_KEYS else _masked(v)) for k, v in value.items()}
    return value


MAX_ERROR_CHARS = 300


def exception_line(exc: BaseException) -> str:
    """``Type: message @ file:line`` of the innermost frame, bounded; no locals, no chain."""
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    where = f" @ {frames[-1].filename.rsplit('/', 2)[-1]}:{frames[-1].lineno}" if frames else ""
    return mask_certno(f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]) + where


def _exc_of(exc_info) -> BaseException | None:
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple) and len(exc_info) == 3:
        return exc_info[1]
    if exc_info is True:
        return sys.exc_info()[1]
    return None


def _one_line_exception(_, __, event_dict: dict) -> dict:
    """structlog: ``exc_info`` / ``stack_info`` become one bounded ``error`` field."""
    exc = _exc_of(event_dict.pop("exc_info", None))
    event_dict.pop("stack_info", None)
    if exc is not None:
        event_dict.setdefault("error", exception_line(exc))
    return event_dict


def _scrub(_, __, event_dict: dict) -> dict:
    for key in list(event_dict):
        event_dict[key] = "***" if key in _SENSITIVE_KEYS else _masked(event_dict[key])
    return event_dict


class CertnoFilter(logging.Filter):
    """The same masking for stdlib log records — uvicorn's access log prints query strings (``?certno=…``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info:  # one bounded line, never a traceback (see the module's docstring)
            exc = _exc_of(record.exc_info)
            record.msg = f"{record.msg} | {exception_line(exc)}" if exc is not None else record.msg
            record.exc_info, record.exc_text, record.stack_info = None, None, None
        if isinstance(record.msg, str):
            record.msg = mask_certno(record.msg)
        if record.args:
            record.args = _masked(record.args) if isinstance(record.args, tuple) else record.args
        return True


def configure_logging(level: str = "INFO", json: bool = False) -> None:
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=getattr(logging, level.upper(), logging.INFO))
    for name in ("uvicorn.access", "uvicorn.error", "uvicorn", "asyncio", "starlette", "fastapi", "sqlalchemy", ""):
        logger = logging.getLogger(name)
        if not any(isinstance(f, CertnoFilter) for f in logger.filters):
            logger.addFilter(CertnoFilter())
    structlog.configure(
        processors=_processors(json),
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper(), logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )


def _processors(json: bool) -> list:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso"),
        _one_line_exception,
        _scrub,
        structlog.processors.JSONRenderer(ensure_ascii=False) if json else
        structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback),
    ]


if not structlog.is_configured():  # code that logs before configure_logging (CLI, tests) gets the same rules
    structlog.configure(processors=_processors(False), logger_factory=structlog.PrintLoggerFactory(file=sys.stderr))


def get_logger(name: str = "yidi"):
    return structlog.get_logger(name)


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line for the stdlib loggers (uvicorn's server and access logs) when YIDI_LOG_JSON is
    set, with the same keys as structlog's lines: timestamp, level, logger, event (docs/operations.md)."""

    ACCESS_FIELDS = ("client", "method", "path", "http_version", "status")

    def format(self, record: logging.LogRecord) -> str:
        import json
        from datetime import datetime, timezone

        line = {"timestamp": datetime.fromtimestamp(record.created, timezone.utc).isoformat().replace("+00:00", "Z"),
                "level": record.levelname.lower(), "logger": record.name}
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            line["event"] = "http.access"
            line.update(zip(self.ACCESS_FIELDS, (mask_certno(str(arg)) for arg in record.args)))
        else:
            line["event"] = mask_certno(record.getMessage())
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def uvicorn_log_config(json: bool, level: str = "INFO") -> dict | None:
    """uvicorn's log_config: JSON lines when ``json`` (else None: uvicorn's own text format)."""
    if not json:
        return None
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr",
               "filters": ["certno"]}
    return {"version": 1, "disable_existing_loggers": False,
            "filters": {"certno": {"()": "yidi.logs.CertnoFilter"}},
            "formatters": {"json": {"()": "yidi.logs.JsonLineFormatter"}},
            "handlers": {"default": handler},
            "loggers": {**{name: {"handlers": ["default"], "level": level.upper(), "propagate": False}
                           for name in ("uvicorn", "uvicorn.error", "uvicorn.access")},
                        "alembic": {"handlers": ["default"], "level": "WARNING", "propagate": False}}}
