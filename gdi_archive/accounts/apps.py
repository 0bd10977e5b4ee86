from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "gdi_archive.accounts"
    label = "accounts"
    verbose_name = "Accounts"
