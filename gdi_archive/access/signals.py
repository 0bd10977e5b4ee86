"""Seams for the apps above access (downloads): they listen here, so access never imports them.

`access_withdrawn(user, datasets, reason)` is sent after the change has committed, when a
person lost access to datasets: an entitlement revoked or expired, or a DAC block. Receivers
remove what that access had made (the person's export copies).
"""

from django.dispatch import Signal

access_withdrawn = Signal()
