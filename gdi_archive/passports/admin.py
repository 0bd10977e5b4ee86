"""Broker API keys are made here (the key is shown once); issued tokens can be seen and revoked."""

from django.contrib import admin, messages
from django.utils import timezone

from gdi_archive.audit.services import record

from . import services
from .models import BrokerApiKey, PassportToken


@admin.register(BrokerApiKey)
class BrokerApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "key_prefix", "created_at", "last_used_at", "revoked_at"]
    fields = ["name", "revoked_at"]
    actions = ["revoke"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        key, saved = services.create_broker_api_key(name=obj.name, actor=request.user, request=request)
        obj.pk = saved.pk
        obj.key_prefix, obj.key_sha256, obj.created_at = saved.key_prefix, saved.key_sha256, saved.created_at
        messages.warning(request, f"The API key for {saved.name} is {key} — copy it now, it is not shown again.")

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        for broker in queryset.filter(revoked_at__isnull=True):
            broker.revoked_at = timezone.now()
            broker.save(update_fields=["revoked_at"])
            record(action="passport.broker_key.revoked", actor=request.user, target=broker, request=request)


@admin.register(PassportToken)
class PassportTokenAdmin(admin.ModelAdmin):
    list_display = ["user", "label", "jti", "created_at", "expires_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["user__username", "jti"]
    readonly_fields = ["user", "jti", "token_sha256", "label", "created_at", "expires_at", "datasets", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        for token in queryset.filter(revoked_at__isnull=True):
            services.revoke_passport_token(user=token.user, token_id=token.pk, actor=request.user, request=request)
