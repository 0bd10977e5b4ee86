from django.urls import path

from . import pages, views

urlpatterns = [
    path("api/dacs", views.DACListView.as_view(), name="api-dacs"),
    path("api/dacs/<str:accession>", views.DACDetailView.as_view(), name="api-dac"),
    path("api/dacs/<str:accession>/members", views.DACMembersView.as_view(), name="api-dac-members"),
    path("api/datasets", views.DatasetListView.as_view(), name="api-datasets"),
    path("api/datasets/<str:accession>", views.DatasetDetailView.as_view(), name="api-dataset"),
    path("api/datasets/<str:accession>/withdraw", views.DatasetWithdrawView.as_view(), name="api-dataset-withdraw"),
    path("api/datasets/<str:accession>/files", views.DatasetFilesView.as_view(), name="api-dataset-files"),
    path("api/datasets/<str:accession>/release", views.DatasetReleaseView.as_view(), name="api-dataset-release"),
    # Catalogue web pages (access work)
    path("", pages.catalogue, name="home"),
    path("datasets", pages.catalogue, name="catalogue"),
    path("datasets/<str:accession>", pages.dataset_page, name="dataset-page"),
]
