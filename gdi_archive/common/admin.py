"""Admin pieces shared by the apps."""


class ReadOnlyAdminMixin:
    """For admin pages that show records and never write them (history, audit, decisions):
    no add, change or delete, whoever asks; viewing is left to the class using it."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
