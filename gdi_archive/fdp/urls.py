from django.urls import path

from . import views

urlpatterns = [
    path("fdp", views.fdp, name="fdp"),
    path("fdp/catalog/", views.catalogs, name="fdp-catalogs"),
    path("fdp/catalog/<str:catalog_id>", views.catalog, name="fdp-catalog"),
    path("fdp/catalog/<str:catalog_id>/dataset/", views.catalog_datasets, name="fdp-catalog-datasets"),
    path("fdp/dataset/<str:accession>", views.dataset, name="fdp-dataset"),
    path("fdp/dataset/<str:accession>/valid", views.DatasetValidity.as_view(), name="fdp-dataset-valid"),
    path("fdp/dataset/<str:accession>/distribution/", views.dataset_distributions, name="fdp-dataset-distributions"),
    path("fdp/distribution/<str:dist_id>", views.distribution, name="fdp-distribution"),
    path("fdp/dataservice/<str:service>", views.dataservice, name="fdp-dataservice"),
    path("fdp/profile/<str:kind>", views.profile, name="fdp-profile"),
    path("fdp/profile/<str:kind>/shacl", views.profile_shacl, name="fdp-profile-shacl"),
]
