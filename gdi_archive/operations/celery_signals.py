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


_consuming: dict[str, object] = {}


def _consumed_queues(consumer) -> list[str]:
    try:
        return sorted(queue.name for queue in consumer.task_consumer.queues)
    except AttributeError:
        return sorted(consumer.app.amqp.queues.consume_from)


@signals.worker_ready.connect
def _announce_queues(sender=None, **kwargs):
    """Tell the web side which queues this worker consumes, every few seconds (common.queues)."""
    from gdi_archive.common import queues

    hostname, consumed = sender.hostname, _consumed_queues(sender)
    _consuming.update(hostname=hostname, queues=consumed)
    stop = threading.Event()
    _consuming["stop"] = stop

    def beat():
        while not stop.is_set():
            try:
                queues.heartbeat(hostname, consumed)
            except Exception as exc:  # the broker away for a moment: try again next beat
                log.warning("queue heartbeat: %s", exc.__class__.__name__)
            stop.wait(queues.BEAT)

    threading.Thread(target=beat, name="queue-heartbeat", daemon=True).start()
    log.info("consuming queues %s", ",".join(consumed))


@signals.worker_shutdown.connect
def _leave_queues(**kwargs):
    from gdi_archive.common import queues

    if "stop" in _consuming:
        _consuming["stop"].set()
        try:
            queues.heartbeat(_consuming["hostname"], _consuming["queues"], leaving=True)
        except Exception as exc:
            log.warning("queue heartbeat: %s", exc.__class__.__name__)


@signals.worker_ready.connect
def _start_http(**kwargs):
    from django.conf import settings

    if not settings.WORKER_HTTP_PORT:
        return
    server = ThreadingHTTPServer(("0.0.0.0", settings.WORKER_HTTP_PORT), _WorkerHandler)
    threading.Thread(target=server.serve_forever, name="worker-http", daemon=True).start()
    log.info("worker health and metrics on port %s", settings.WORKER_HTTP_PORT)
