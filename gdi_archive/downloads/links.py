"""Links that work without a token are bound to a person, and re-check that person's grant.

An htsget body block, a DRS access URL and an export link carry no token: the URL is the
credential. Each one therefore names, under its signature, who it was made for (the local
user), which of the file's datasets their access rested on, and how: `ent`, datasets opened by
a live entitlement here (re-checked on every request, so a revocation or expiry counts at
once), and `visa`, datasets opened by a broker's visas (which cannot be re-checked without the
token: they count until `until`, the visas' expiry); `people` and `ids` name everyone the
request spoke for (local users, whose entitlements are re-checked, such as the user a broker's
link tied the token to; and external identities, as `identity_key`s). A DAC block of any of
them stops both at once, as does a disabled account.
`still_granted` is asked on every request through such a link, before a byte goes out.
"""

import time

from django.conf import settings
from django.utils import timezone

from gdi_archive.access.models import Entitlement
from gdi_archive.access.selectors import Person, blocked_for, person
from gdi_archive.accounts.models import User
from gdi_archive.catalogue.models import Dataset, File
from gdi_archive.passports.grants import granted_datasets, request_person, request_user

FIELDS = ("user", "ent", "visa", "until", "people", "ids")


def released_datasets(file: File) -> set[str]:
    return set(file.datasets.filter(status=Dataset.Status.RELEASED).values_list("accession", flat=True))


def visa_until(request) -> int:
    """Until when access resting on visas (a broker's, or the sign-in's) may be relied on."""
    grants = getattr(request, "auth", None)
    expires = getattr(grants, "expires_at", None)
    if expires is not None:
        return int(expires.timestamp())
    session = getattr(request, "session", None)
    held = session.get("passport_grants") if session is not None else None
    if isinstance(held, dict) and isinstance(held.get("expires"), int):
        return held["expires"]
    return int(time.time()) + settings.VISA_MAX_AGE


def live_for(who: Person) -> frozenset[str]:
    """Datasets that a live entitlement of an active user entitled for `who` opens now."""
    if not who.entitled:
        return frozenset()
    return frozenset(
        Entitlement.objects.live()
        .filter(user_id__in=who.entitled, user__is_active=True)
        .values_list("dataset__accession", flat=True)
    )


def _live_for_request(request, who: Person) -> frozenset[str]:
    """`live_for(who)`, or what the token's own live checks already read in this request (our
    own token, speaking for its user only: the user's live entitlements, account active)."""
    grants = getattr(request, "auth", None)
    known = getattr(grants, "entitled_live", None)
    if known is not None and getattr(grants, "person", None) == who:
        return known
    return live_for(who)


def person_fields(who: Person) -> dict:
    return {"people": ",".join(str(u) for u in sorted(who.entitled)), "ids": ",".join(sorted(who.keys))}


def person_from(fields: dict, user: User) -> Person:
    """The person a link was made for (`user` and the signed `people` and `ids`), closed again
    over today's links."""
    users = [int(u) for u in str(fields.get("people") or "").split(",") if u.isdigit()]
    keys = [k for k in str(fields.get("ids") or "").split(",") if k]
    return person(user=user, users=users, keys=keys)


def bind(request, file: File) -> dict:
    """The fields that tie a link for `file` to the person asking now (signed with the link)."""
    user = request_user(request)
    who = request_person(request)
    via = getattr(file, "granted_via", None)  # get_file_for_download read it in this request
    granted = set(via) if via is not None else released_datasets(file) & set(granted_datasets(request))
    live = granted & set(_live_for_request(request, who)) if user is not None else set()
    visa = granted - live
    return {
        "user": user.pk if user is not None else "",
        "ent": ",".join(sorted(live)),
        "visa": ",".join(sorted(visa)),
        "until": visa_until(request) if visa else 0,
        **person_fields(who),
    }


def link_ttl(bound: dict, ttl: int) -> int:
    """A link never outlives the visas it rests on (at least one second)."""
    if bound.get("visa") and not bound.get("ent"):
        return max(1, min(ttl, int(bound["until"]) - int(time.time())))
    return ttl


def still_granted(fields: dict, file: File) -> bool:
    """Does the person this link was made for still hold a grant for `file`, right now?"""
    try:
        user_id = int(fields.get("user") or 0)
        until = int(fields.get("until") or 0)
    except (TypeError, ValueError):
        return False
    user = User.objects.filter(pk=user_id, is_active=True).first() if user_id else None
    if user is None:
        return False
    who = person_from(fields, user)
    held = released_datasets(file) - blocked_for(who)
    ent = {d for d in str(fields.get("ent") or "").split(",") if d} & held
    if ent & set(live_for(who)):
        return True
    visa = {d for d in str(fields.get("visa") or "").split(",") if d} & held
    return bool(visa) and until > timezone.now().timestamp()
