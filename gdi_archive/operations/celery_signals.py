"""Celery hooks: a task logs with the request id of the web request that queued it, and a
worker can answer /health/* and /metrics over HTTP (WORKER_HTTP_PORT) for Kubernetes probes."""

import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from celery import signals

from .logging import request_id_var

log = logging.getLogger(__name__)


@signals.before_task_publish.connect
def _add_request_id(headers=None, **kwargs):
    if headers is not None and request_id_var.get() != "-":
        headers.setdefault("request_id", request_id_var.get())


_started: dict[str, float] = {}
INGEST_TASK = "gdi_archive.ingest.tasks.ingest_file"


@signals.task_prerun.connect
def _set_request_id(task_id=None, task=None, **kwargs):
    request_id_var.set(getattr(task.request, "request_id", None) or f"task-{task_id}")
    _started[task_id] = time.monotonic()


@signals.task_postrun.connect
def _task_done(task_id=None, task=None, retval=None, **kwargs):
    """Ingest metrics come from here, so the ingest code needs no metrics calls of its own."""
    started = _started.pop(task_id, None)
    if task is not None and task.name == INGEST_TASK:
        from . import metrics

        metrics.INGEST_FILES.labels(result=retval if retval in ("ready", "error") else "other").inc()
        if started is not None:
            metrics.INGEST_DURATION.observe(time.monotonic() - started)
    request_id_var.set("-")


class _WorkerHandler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        from django.test import RequestFactory

        from gdi_archive.common import views as common_views

        from . import metrics
        from .access import may_read_metrics

        path = self.path.split("?", 1)[0]
        if path == "/health/live":
            status, body, kind = 200, b'{"status": "ok"}', "application/json"
        elif path == "/health/ready":
            response = common_views.health_ready(RequestFactory().get("/health/ready"))
            status, body, kind = response.status_code, response.content, "application/json"
        elif path == "/metrics" and may_read_metrics(
            authorization=self.headers.get("Authorization", ""), remote_addr=self.client_address[0]
        ):
            status, body, kind = 200, metrics.exposition(), "text/plain; version=0.0.4"
        else:
            status, body, kind = 404, b'{"error": "NotFound", "detail": "Not found."}', "application/json"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # probes every few seconds would flood the log
        pass


@signals.worker_ready.connect
def _start_http(**kwargs):
    from django.conf import settings

    if not settings.WORKER_HTTP_PORT:
        return
    server = ThreadingHTTPServer(("0.0.0.0", settings.WORKER_HTTP_PORT), _WorkerHandler)
    threading.Thread(target=server.serve_forever, name="worker-http", daemon=True).start()
    log.info("worker health and metrics on port %s", settings.WORKER_HTTP_PORT)
