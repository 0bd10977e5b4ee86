"""Template tags the catalogue's pages load, so the catalogue never imports the access app above it."""

from django import template

from ..models import AccessRequest, Entitlement

register = template.Library()


@register.inclusion_tag("access/_dataset_access.html", takes_context=True)
def dataset_access(context, dataset):
    """The "Access" block of a dataset page: my live entitlement, my open request, or how to ask."""
    request = context["request"]
    user = request.user
    mine = {"dataset": dataset, "user": user, "request": request}
    if user.is_authenticated:
        mine["entitlement"] = Entitlement.objects.live().filter(user=user, dataset=dataset).first()
        mine["open_request"] = AccessRequest.objects.open().filter(applicant=user, datasets=dataset).first()
    return mine
