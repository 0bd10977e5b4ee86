from django.urls import include, path

from . import views

beacon = [
    path("", views.Info.as_view(), name="beacon-root"),
    path("info", views.Info.as_view(), name="beacon-info"),
    path("service-info", views.ServiceInfo.as_view(), name="beacon-service-info"),
    path("configuration", views.Configuration.as_view(), name="beacon-configuration"),
    path("map", views.Map.as_view(), name="beacon-map"),
    path("entry_types", views.EntryTypes.as_view(), name="beacon-entry-types"),
    path("filtering_terms", views.FilteringTerms.as_view(), name="beacon-filtering-terms"),
    path("datasets", views.Datasets.as_view(), name="beacon-datasets"),
    path("datasets/<str:dataset_id>", views.Datasets.as_view(), name="beacon-dataset"),
    path("datasets/<str:dataset_id>/g_variants", views.GVariants.as_view(), name="beacon-dataset-g-variants"),
    path("datasets/<str:dataset_id>/individuals", views.Individuals.as_view(), name="beacon-dataset-individuals"),
    path("g_variants", views.GVariants.as_view(), name="beacon-g-variants"),
    path("individuals", views.Individuals.as_view(), name="beacon-individuals"),
]

urlpatterns = [
    path("beacon/v2", views.Info.as_view()),
    path("beacon/v2/", include(beacon)),
    path(
        "api/datasets/<str:accession>/individuals",
        views.DatasetIndividualsUpload.as_view(),
        name="api-dataset-individuals",
    ),
]
