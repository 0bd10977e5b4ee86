"""Which Celery queues exist and whether anything consumes them.

Every queue a task is routed to is in `CELERY_TASK_QUEUES` (settings), so `celery -A gdi_archive
worker` with no `-Q` consumes all of them. Each worker says which queues it consumes by writing
its name with the time into one sorted set per queue in Redis every few seconds (see
`operations.celery_signals`); a queue whose newest entry is older than `STALE` seconds has no
consumer. /metrics (`gdi_queue_consumers`), /health/ready and the inbox status read it here.
"""

import logging
import time

from django.conf import settings

log = logging.getLogger(__name__)

BEAT = 10  # seconds between a worker's heartbeats
STALE = 3 * BEAT


def routed_queues() -> list[str]:
    return [queue.name for queue in settings.CELERY_TASK_QUEUES]


def queue_of(task_name: str) -> str:
    """The queue `CELERY_TASK_ROUTES` sends this task to (glob patterns as Celery reads them)."""
    from fnmatch import fnmatchcase

    for pattern, route in settings.CELERY_TASK_ROUTES.items():
        if fnmatchcase(task_name, pattern):
            return route["queue"]
    return settings.CELERY_TASK_DEFAULT_QUEUE


def _key(queue: str) -> str:
    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")
    return f"{prefix}gdi:consumers:{queue}"


def _client():
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def watched() -> bool:
    """Consumers matter only when tasks go through a broker (not eager, not in memory)."""
    from celery import current_app

    return bool(settings.REDIS_URL) and not current_app.conf.task_always_eager


def heartbeat(hostname: str, queues, *, leaving: bool = False) -> None:
    """Called by a worker: it consumes `queues` now (or, `leaving`, no longer)."""
    if not settings.REDIS_URL:
        return
    client = _client()
    now = time.time()
    pipe = client.pipeline()
    for queue in queues:
        if leaving:
            pipe.zrem(_key(queue), hostname)
        else:
            pipe.zadd(_key(queue), {hostname: now})
            pipe.expire(_key(queue), STALE * 10)
    pipe.execute()


def consumers() -> dict[str, int] | None:
    """Live consumers per routed queue; None when not watched or the broker does not answer."""
    if not watched():
        return None
    import redis

    now = time.time()
    try:
        client = _client()
        pipe = client.pipeline()
        for queue in routed_queues():
            pipe.zcount(_key(queue), now - STALE, "+inf")
        counts = pipe.execute()
    except redis.RedisError as exc:
        log.warning("queue consumers: %s", exc.__class__.__name__)
        return None
    return dict(zip(routed_queues(), (int(count) for count in counts), strict=True))


def unconsumed() -> list[str]:
    """Routed queues nothing consumes (empty when not watched or unknown)."""
    counts = consumers() or {}
    return [queue for queue, count in counts.items() if count == 0]
