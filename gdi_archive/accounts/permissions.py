"""Who someone is to the archive, asked in one place: admin, API permissions, services and pages call these.

Each takes a user and what it is about (a DAC is anything with `members`), so this module needs
no app above accounts.
"""


def is_steward(user) -> bool:
    """An active data steward or superuser."""
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_steward)


def is_admin_steward(user) -> bool:
    """A steward who may use the admin site (staff)."""
    return is_steward(user) and user.is_staff


def is_operator(user) -> bool:
    """An active superuser: the person who runs the archive (design.md: `createsuperuser`)."""
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_active and user.is_superuser)


def is_dac_member(user, dac) -> bool:
    """An active member of this Data Access Committee."""
    return bool(
        user is not None
        and getattr(user, "is_authenticated", False)
        and user.is_active
        and dac.members.filter(pk=user.pk).exists()
    )


def is_admin_dac_member(user) -> bool:
    """Active staff who sit on at least one DAC (they see their committees' objects in the admin)."""
    return bool(user.is_active and user.is_staff and user.dacs.exists())
