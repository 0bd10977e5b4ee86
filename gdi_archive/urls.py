from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    # Django tries the patterns in order, so the most frequent requests come first: the Beacon's
    # queries (the network asks every node), the health checks, then downloads and the catalogue
    # (an authorised client's tickets, ranges and listings: trying the other apps' 60-odd patterns
    # first was a tenth of a range request's CPU). No app's routes overlap another's
    # (tests/common/test_urls.py), so the order changes which pattern is tried first, never
    # which one answers.
    path("", include("gdi_archive.beacon.urls")),
    path("", include("gdi_archive.common.urls")),
    path("", include("gdi_archive.downloads.urls")),
    path("", include("gdi_archive.catalogue.urls")),
    path("admin/", admin.site.urls),
    path("", include("gdi_archive.accounts.urls")),
    path("", include("gdi_archive.ingest.urls")),
    path("", include("gdi_archive.access.urls")),
    path("", include("gdi_archive.passports.urls")),
    path("", include("gdi_archive.operations.urls")),
    path("", include("gdi_archive.fdp.urls")),
]

handler400 = "gdi_archive.common.views.bad_request"
handler403 = "gdi_archive.common.views.permission_denied"
handler404 = "gdi_archive.common.views.page_not_found"
handler500 = "gdi_archive.common.views.server_error"
