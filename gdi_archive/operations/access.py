"""Who may read /metrics: a bearer METRICS_TOKEN when one is set, otherwise this machine only."""

import hmac

from django.conf import settings

LOOPBACK = {"127.0.0.1", "::1"}


def may_read_metrics(*, authorization: str, remote_addr: str) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        scheme, _, offered = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(offered.strip().encode(), token.encode())
    return remote_addr in LOOPBACK
