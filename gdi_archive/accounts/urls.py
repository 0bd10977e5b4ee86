from django.urls import path
from django.views.i18n import set_language

from . import views

urlpatterns = [
    path("login", views.LoginView.as_view(), name="login"),
    path("logout", views.LogoutView.as_view(), name="logout"),
    path("keys", views.my_keys, name="my-keys"),
    path("keys/<int:pk>/revoke", views.revoke_key, name="key-revoke"),
    path("i18n/setlang/", set_language, name="set_language"),
]
