"""The public catalogue pages: search and filter released datasets, and one dataset's page.

Released datasets' descriptions are public (like any data catalogue); drafts and withdrawn
datasets give 404. The list answers htmx requests with just the results.
"""

import re

from django.db.models import Count, Q, Sum
from django.http import Http404
from django.shortcuts import render

from .duo import describe_local as describe
from .models import DAC, Dataset, File

PAGE_SIZE = 50
DUO_CODE = re.compile(r"^(DUO|MONDO):\d{7}$")


def _released():
    ready = Q(files__status=File.Status.READY, files__index_of__isnull=True)
    return (
        Dataset.objects.filter(status=Dataset.Status.RELEASED)
        .select_related("dac")
        .annotate(
            file_count=Count("files", filter=ready, distinct=True), size=Sum("files__plaintext_size", filter=ready)
        )
    )


def catalogue(request):
    q = request.GET.get("q", "").strip()[:200]
    duo = request.GET.get("duo", "").strip()[:20]
    dac = request.GET.get("dac", "").strip()[:40]
    datasets = _released().order_by("accession")
    if q:
        datasets = datasets.filter(Q(title__icontains=q) | Q(accession__iexact=q) | Q(description__icontains=q))
    if DUO_CODE.match(duo):
        # A text match on the quoted code: JSON containment is not available on SQLite (the embedded default).
        datasets = datasets.filter(duo__icontains=f'"{duo}"')
    if dac:
        datasets = datasets.filter(dac__accession=dac)
    dacs = DAC.objects.filter(datasets__status=Dataset.Status.RELEASED).distinct().order_by("name")
    duo_codes = [
        (code, describe(code))
        for code in sorted(
            {
                code
                for codes in Dataset.objects.filter(status=Dataset.Status.RELEASED).values_list("duo", flat=True)
                for code in (codes or [])
                if isinstance(code, str)
            }
        )
    ]
    shown = list(datasets[:PAGE_SIZE])
    for dataset in shown:
        dataset.duo_labels = [describe(code) for code in dataset.duo or []]
    context = {"datasets": shown, "q": q, "duo": duo, "dac": dac, "dacs": dacs, "duo_codes": duo_codes}
    template = "catalogue/_results.html" if request.headers.get("HX-Request") else "catalogue/catalogue.html"
    return render(request, template, context)


def dataset_page(request, accession):
    dataset = _released().filter(accession=accession).first()
    if dataset is None:
        raise Http404
    files = dataset.files.filter(status=File.Status.READY, index_of__isnull=True).order_by("name")
    context = {"dataset": dataset, "files": files[:200], "duo_labels": [describe(code) for code in dataset.duo or []]}
    return render(request, "catalogue/dataset.html", context)
