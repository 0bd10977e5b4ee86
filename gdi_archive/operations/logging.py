"""JSON log lines that carry the request id, so one request can be followed across web and worker.

The id lives in a context variable set by RequestIdMiddleware (and by the Celery signals for a
task); RequestIdFilter copies it onto every record, JsonFormatter writes one object per line.
"""

import contextvars
import datetime
import json
import logging
import re
import uuid

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Never write these, whatever a caller passes in `extra`.
_SECRET_WORDS = ("authorization", "token", "password", "secret", "passphrase", "cookie")
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "request_id"}


def new_request_id(offered: str | None = None) -> str:
    """The caller's X-Request-ID if it is a sane token, else a fresh one."""
    if offered and _VALID_ID.match(offered):
        return offered
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        document = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", request_id_var.get()),
        }
        for key, value in vars(record).items():
            if key in _STANDARD or key.startswith("_") or any(word in key.lower() for word in _SECRET_WORDS):
                continue
            if key == "request" and hasattr(value, "path"):
                # Django passes the request along; its repr has the query string, where signed
                # URLs keep their signature. Method and path only.
                value = f"{getattr(value, 'method', '')} {value.path}"
            try:
                json.dumps(value)
            except (TypeError, ValueError):
                value = repr(value)
            document[key] = value
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, ensure_ascii=False)
