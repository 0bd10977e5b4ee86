from django.urls import path

from . import oidc, views

urlpatterns = [
    path(".well-known/jwks.json", views.jwks, name="jwks"),
    # The path LS-AAI registers for a REMS visa source: the same JWKS.
    path("api/jwk", views.jwks, name="jwks-rems"),
    path("api/permissions/<str:username>", views.PermissionsView.as_view(), name="permissions"),
    path("api/tokens", views.TokensView.as_view(), name="tokens"),
    path("account/tokens", views.access_tokens, name="access-tokens"),
    path("account/tokens/<int:pk>/revoke", views.revoke_token, name="access-token-revoke"),
    path("oidc/login", oidc.oidc_login, name="oidc-login"),
    path("oidc/callback", oidc.oidc_callback, name="oidc-callback"),
]
