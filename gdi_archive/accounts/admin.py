from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import User


@admin.register(User)
class ArchiveUserAdmin(UserAdmin):
    fieldsets = UserAdmin.fieldsets + (("Researcher", {"fields": ("bona_fide_confirmed_at",)}),)
