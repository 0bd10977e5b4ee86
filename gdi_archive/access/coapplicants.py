"""The co-applicant pages: the applicant invites colleagues to a request or removes them, and
the invitee opens the emailed link and accepts the terms.

Kept apart from views.py (the applicant's own request pages) so that each stays short; thin in
the same way: fetched through `views.visible_request`, acted on through `services`, a refusal
shown as a message on the page.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gdi_archive.common.errors import ArchiveError, NotFound

from . import services
from .forms import DUO_LABELS, AcceptInvitationForm, InviteForm
from .models import RequestMember
from .views import act_on_request, visible_request


@login_required
@require_POST
def invite(request, pk):
    req = visible_request(request, pk)
    form = InviteForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Enter the email address of the person to invite."))
        return redirect(reverse("request-detail", args=[req.pk]) + "#members")
    return act_on_request(
        request,
        pk,
        lambda r: services.invite_member(
            access_request=r, applicant=request.user, email=form.cleaned_data["email"], request=request
        ),
        _("The invitation was emailed to %(email)s.") % {"email": form.cleaned_data["email"]},
    )


@login_required
@require_POST
def remove_member(request, pk, member_pk):
    req = visible_request(request, pk)
    member = req.members.exclude(status=RequestMember.Status.REMOVED).filter(pk=member_pk).first()
    if member is None or req.applicant_id != request.user.pk:
        raise Http404
    who = member.user.get_username() if member.user else member.email
    return act_on_request(
        request,
        pk,
        lambda r: services.remove_member(access_request=r, applicant=request.user, who=who, request=request),
        _("%(who)s was removed from the request.") % {"who": who},
    )


def invitation(request, token):
    """The page behind the emailed link: the invitee sees the request and accepts the terms.

    A token that is wrong, used or withdrawn is a 404 page saying so; anonymous visitors of a
    valid link are sent to sign in first (a wrong token says nothing more to them either).
    """
    try:
        member = services.invitation_for(token)
    except NotFound as exc:
        return render(request, "access/invitation_invalid.html", {"detail": exc.detail}, status=404)
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    req = member.access_request
    form = AcceptInvitationForm(request.POST or None)
    error = ""
    if request.method == "POST":
        try:
            services.accept_invitation(
                token=token,
                user=request.user,
                accept_terms=form.is_valid() and form.cleaned_data["accept_terms"],
                request=request,
            )
        except NotFound as exc:
            return render(request, "access/invitation_invalid.html", {"detail": exc.detail}, status=404)
        except ArchiveError as exc:
            error = exc.detail
        else:
            messages.success(request, _("You joined the request. The committee sees you as a co-applicant."))
            return redirect("request-detail", pk=req.pk)
    return render(
        request,
        "access/invitation.html",
        {
            "member": member,
            "req": req,
            "form": form,
            "error": error,
            "datasets": req.datasets.all(),
            "duo_labels": [(code, DUO_LABELS.get(code, "")) for code in req.duo],
            "summary": [("id_accept_terms", "", error)] if error else [],
        },
    )
