"""gunicorn settings for the archive (design.md section 6: "The gunicorn settings live here").

Everything can be changed from the environment, so one image fits a laptop and a cluster:
  GUNICORN_BIND      where to listen               (default 0.0.0.0:$PORT, PORT defaults to 8000)
  GUNICORN_WORKERS   worker processes              (default 2 x cores + 1, at most 8)
  GUNICORN_THREADS   threads per worker (gthread)  (default 8)
  GUNICORN_TIMEOUT   seconds a worker may be silent (default 300)
  GUNICORN_BODY_TIMEOUT  seconds a client may leave a request body or a download idle (default 60)
  GUNICORN_BODY_MIN_RATE slowest average upload accepted after that grace, bytes/s (default 65536)
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
import time
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
body_timeout = _int("GUNICORN_BODY_TIMEOUT", 60)
body_min_rate = _int("GUNICORN_BODY_MIN_RATE", 64 * 1024)
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
worker_tmp_dir = "/dev/shm" if Path("/dev/shm").is_dir() else None  # noqa: S108 (tmpfs for worker heartbeats, on purpose)
control_socket_disable = True


class _JsonErrorFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        document = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(timespec="milliseconds"),
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
            "time": datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds"),
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


def post_worker_init(worker):
    """Load everything a request will need (the URL patterns and the views they import), then
    move it all out of the garbage collector's sight (`gc.freeze`). Otherwise every full
    collection walks the ~200,000 objects of Django, the apps and the libraries, which never
    become garbage: about 140 ms each on this hardware, roughly every hundred Beacon region
    answers, stalling that worker's threads mid-request. Requests still collect their own
    garbage as before."""
    import gc

    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 (imports every app's urls and views now, not on the first request)
    gc.collect()
    gc.freeze()


def child_exit(server, worker):
    """Tell prometheus_client that a worker is gone, so its gauges stop counting."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


class _PacedSocket:
    """The client socket as gunicorn's request reader sees it, refusing a body that trickles.

    After a grace period of GUNICORN_BODY_TIMEOUT seconds, the body must have arrived at
    GUNICORN_BODY_MIN_RATE bytes/s on average; a slower one fails the next read, which the
    archive answers with 408 and nothing kept. Only reads of a request body are paced.
    """

    def __init__(self, sock):
        self._sock = sock
        self.pace(False)

    def pace(self, on: bool) -> None:
        self._on, self._started, self._received = on, time.monotonic(), 0

    def recv(self, size, *args):
        data = self._sock.recv(size, *args)
        self._count(len(data))
        return data

    def recv_into(self, buffer, nbytes=0, *args):
        got = self._sock.recv_into(buffer, nbytes, *args)
        self._count(got)
        return got

    def _count(self, got: int) -> None:
        if self._on:
            self._received += got
            late = time.monotonic() - self._started - body_timeout
            if late > 0 and self._received < late * body_min_rate:
                raise TimeoutError("the request body arrived too slowly")

    def __getattr__(self, name):
        return getattr(self._sock, name)


LEAN_READ_BYTES = 256 * 1024


class _LeanBody:
    """The request body of known length, read straight from the socket when read in big pieces.

    gunicorn's Body reads 1 MiB at a time through two BytesIO buffers, copying every byte about
    six times: for a 1 GiB upload that was more CPU than writing it to disk. A read of at least
    LEAN_READ_BYTES, with nothing held in Body's own buffer, takes the bytes gunicorn already
    read ahead and then `recv_into` one reused buffer, never past the body's end (LengthReader's count
    is kept, so keep-alive and the drain after the request see the same state). Anything else
    (small reads, readline, iteration) is gunicorn's own Body.
    """

    def __init__(self, body):
        self._body = body
        self._buffer = bytearray()  # reused: a fresh zeroed buffer per read cost more than the recv

    def read(self, size=None):
        body = self._body
        reader = body.reader
        if size is None or size < LEAN_READ_BYTES or body.buf.tell():
            return body.read(size)
        size = min(size, reader.length)
        if size <= 0:
            return b""
        if len(self._buffer) < size:
            self._buffer = bytearray(size)
        view = memoryview(self._buffer)
        held = reader.unreader.take_buffered()
        got = min(len(held), size)
        view[:got] = held[:got]
        if len(held) > got:
            reader.unreader.unread(held[got:])
        try:
            while got < size:
                n = reader.unreader.sock.recv_into(view[got:], size - got)
                if not n:
                    break
                got += n
        except BaseException:
            body.failed = True  # where the next request starts is unknown now
            reader.length -= got
            raise
        reader.length -= got
        with view:
            return bytes(view[:got])

    def __iter__(self):
        return iter(self._body)

    def __getattr__(self, name):
        return getattr(self._body, name)


def pre_request(worker, req):
    """Bound how long a client may take to send a request body.

    gthread reads bodies on a blocking socket with no timeout, so a client trickling an upload
    would hold a thread for ever: the socket gets an idle timeout, and the body a minimum rate.
    """
    unreader = getattr(req, "unreader", None)
    sock = getattr(unreader, "sock", None)
    if sock is None or body_timeout <= 0:
        return
    if not isinstance(sock, _PacedSocket):
        sock = unreader.sock = _PacedSocket(sock)
    sock.settimeout(body_timeout)
    sock.pace(True)
    from gunicorn.http.body import LengthReader

    if isinstance(getattr(req.body, "reader", None), LengthReader) and not isinstance(req.body, _LeanBody):
        req.body = _LeanBody(req.body)


def post_request(worker, req, environ, resp):
    sock = getattr(getattr(req, "unreader", None), "sock", None)
    if isinstance(sock, _PacedSocket):
        sock.pace(False)  # the wait for the next request on this connection is keep-alive's business
