from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    # The Beacon first: its queries are the most frequent requests from outside (the network asks
    # every node), and Django tries the patterns in order; no other app's routes overlap its own.
    path("", include("gdi_archive.beacon.urls")),
    path("admin/", admin.site.urls),
    path("", include("gdi_archive.common.urls")),
    path("", include("gdi_archive.accounts.urls")),
    path("", include("gdi_archive.catalogue.urls")),
    path("", include("gdi_archive.ingest.urls")),
    path("", include("gdi_archive.access.urls")),
    path("", include("gdi_archive.passports.urls")),
    path("", include("gdi_archive.downloads.urls")),
    path("", include("gdi_archive.operations.urls")),
    path("", include("gdi_archive.fdp.urls")),
]

handler400 = "gdi_archive.common.views.bad_request"
handler403 = "gdi_archive.common.views.permission_denied"
handler404 = "gdi_archive.common.views.page_not_found"
handler500 = "gdi_archive.common.views.server_error"
