from django.urls import path

from . import views

urlpatterns = [
    path("api/dacs", views.DACListView.as_view(), name="api-dacs"),
    path("api/dacs/<str:accession>/members", views.DACMembersView.as_view(), name="api-dac-members"),
    path("api/datasets", views.DatasetListView.as_view(), name="api-datasets"),
    path("api/datasets/<str:accession>/files", views.DatasetFilesView.as_view(), name="api-dataset-files"),
    path("api/datasets/<str:accession>/release", views.DatasetReleaseView.as_view(), name="api-dataset-release"),
]
