"""Sign-ins, successful and failed, go to the audit log (never the password)."""

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from .services import record


@receiver(user_logged_in, dispatch_uid="audit-user-logged-in")
def _logged_in(sender, request, user, **kwargs):
    backend = getattr(user, "backend", "") or ""
    record(
        action="accounts.signin",
        actor=user,
        target=user,
        request=request,
        details={"backend": backend.rsplit(".", 1)[-1]},
    )


@receiver(user_login_failed, dispatch_uid="audit-user-login-failed")
def _login_failed(sender, credentials, request=None, **kwargs):
    username = str((credentials or {}).get("username", ""))[:150]
    record(action="accounts.signin_failed", actor=None, request=request, details={"username": username})
