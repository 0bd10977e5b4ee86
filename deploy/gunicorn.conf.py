"""gunicorn settings for the archive (design.md section 6: "The gunicorn settings live here").

Everything can be changed from the environment, so one image fits a laptop and a cluster:
  GUNICORN_BIND      where to listen               (default 0.0.0.0:$PORT, PORT defaults to 8000)
  GUNICORN_WORKERS   worker processes              (default 2 x cores + 1, at most 8)
  GUNICORN_THREADS   threads per worker (gthread)  (default 8)
  GUNICORN_TIMEOUT   seconds a worker may be silent (default 300)
Downloads are streamed for hours, so the worker class is `gthread`: a slow client holds a
thread, not a whole process, and the timeout only fires for a worker that stops heartbeating.
The access log is one JSON object per line, with the path but never the query string (signed
URLs carry their signature there) and never the Authorization header.
"""

import datetime
import json
import logging
import multiprocessing
import os
import shutil
from pathlib import Path

from gunicorn.glogging import Logger


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{_int('PORT', 8000)}"
workers = _int("GUNICORN_WORKERS", min(2 * multiprocessing.cpu_count() + 1, 8))
worker_class = "gthread"
threads = _int("GUNICORN_THREADS", 8)
timeout = _int("GUNICORN_TIMEOUT", 300)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 120)
keepalive = 5
# Recycle workers now and then, so a slow leak in a library cannot grow without bound.
max_requests = _int("GUNICORN_MAX_REQUESTS", 5000)
max_requests_jitter = 500
# Behind the TLS proxy: trust its X-Forwarded-* headers (the proxy is the only way in).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")
proxy_allow_ips = forwarded_allow_ips
limit_request_line = 8190
# A passport with ten visas is about 12 KB in one Authorization header; gunicorn's default
# (8190 bytes) would refuse it before the archive sees it. Tokens over 32 KiB are refused by
# the clearinghouse itself.
limit_request_field_size = 40000
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
worker_tmp_dir = "/dev/shm" if Path("/dev/shm").is_dir() else None
control_socket_disable = True


class _JsonErrorFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        document = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document)


def _json_logs() -> bool:
    default = "json" if os.environ.get("ENVIRONMENT") == "production" else "text"
    return (os.environ.get("LOG_FORMAT") or default) == "json"


class JsonAccessLogger(Logger):
    """Access log lines as JSON; the query string and credentials are left out on purpose.
    With LOG_FORMAT=json (the production default) gunicorn's own messages are JSON too."""

    def setup(self, cfg):
        super().setup(cfg)
        if _json_logs():
            for handler in self.error_log.handlers:
                handler.setFormatter(_JsonErrorFormatter())

    def access(self, resp, req, environ, request_time):
        if not (self.cfg.accesslog or self.cfg.logconfig or self.cfg.logconfig_dict or self.cfg.syslog):
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        record = {
            "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds"),
            "level": "INFO",
            "logger": "gunicorn.access",
            "remote_addr": environ.get("REMOTE_ADDR", ""),
            "method": environ.get("REQUEST_METHOD", ""),
            "path": environ.get("PATH_INFO", ""),
            "status": int(status) if str(status).isdigit() else status,
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 1),
            "request_id": _response_header(resp, "x-request-id") or environ.get("HTTP_X_REQUEST_ID", ""),
            "user_agent": environ.get("HTTP_USER_AGENT", "")[:200],
        }
        try:
            self.access_log.info(json.dumps(record))
        except Exception:
            self.exception("cannot write the access log line")


def _response_header(resp, name: str) -> str:
    for key, value in getattr(resp, "headers", []) or []:
        if key.lower() == name:
            return value
    return ""


logger_class = JsonAccessLogger


def on_starting(server):
    """prometheus_client multiprocess mode: start each run with an empty metrics folder."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder, exist_ok=True)


def child_exit(server, worker):
    """Tell prometheus_client that a worker is gone, so its gauges stop counting."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
