from django.urls import path

from . import blocks, drs, views
from .htsget import views as htsget

urlpatterns = [
    path("api/files/<str:accession>", views.FileStream.as_view(), name="download-file"),
    path("api/files/<str:accession>/header", views.FileHeader.as_view(), name="download-header"),
    path("api/files/<str:accession>/content", views.FileContent.as_view(), name="download-content"),
    path("api/blocks/<str:accession>", blocks.block, name="download-block"),
    path("htsget/reads/service-info", htsget.ReadsServiceInfo.as_view(), name="htsget-reads-service-info"),
    path("htsget/variants/service-info", htsget.VariantsServiceInfo.as_view(), name="htsget-variants-service-info"),
    path("htsget/reads/<str:accession>", htsget.ReadsView.as_view(), name="htsget-reads"),
    path("htsget/variants/<str:accession>", htsget.VariantsView.as_view(), name="htsget-variants"),
    path("ga4gh/drs/v1/service-info", drs.DrsServiceInfo.as_view(), name="drs-service-info"),
    path("ga4gh/drs/v1/objects/<str:object_id>", drs.DrsObject.as_view(), name="drs-object"),
    path("ga4gh/drs/v1/objects/<str:object_id>/access/<str:access_id>", drs.DrsAccess.as_view(), name="drs-access"),
    path("api/exports", views.ExportList.as_view(), name="exports"),
    path("api/exports/<str:export_id>", views.ExportDetail.as_view(), name="export"),
    path("api/exports/<str:export_id>/files/<str:accession>", views.export_file, name="export-file"),
]
