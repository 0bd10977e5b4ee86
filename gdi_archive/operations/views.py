"""/metrics for Prometheus (restricted: see access.py)."""

from django.http import HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from gdi_archive.common.clients import client_address
from gdi_archive.common.errors import json_error

from . import metrics
from .access import may_read_metrics


@require_GET
def metrics_view(request):
    if not may_read_metrics(
        authorization=request.headers.get("Authorization", ""), remote_addr=client_address(request)
    ):
        return json_error("Forbidden", "Metrics need the operator's METRICS_TOKEN.", 403)
    return HttpResponse(metrics.exposition(), content_type=CONTENT_TYPE_LATEST)
