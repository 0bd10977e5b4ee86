from django.apps import AppConfig


class CatalogueConfig(AppConfig):
    name = "gdi_archive.catalogue"
    label = "catalogue"
    verbose_name = "Catalogue"
