"""Visa issuing and entitlement look-ups (to be filled in by the passports work)."""


def live_dataset_accessions(user) -> frozenset[str]:
    """Datasets the user holds a live (active, started, not ended) entitlement for."""
    return frozenset()
