"""Clients as the network's callers are: anonymous, with a real passport token, signed in."""

from rest_framework.test import APIClient


def passport_client(user) -> APIClient:
    """A client with a passport token minted by this archive for `user` (its visas: the user's
    live entitlements now; the clearinghouse re-checks them on every request)."""
    from gdi_archive.passports.services import mint_passport_token

    token, _ = mint_passport_token(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def g_variant(
    client,
    *,
    chrom: str,
    start: int,
    ref=None,
    alt=None,
    end=None,
    granularity="count",
    path="/beacon/v2/g_variants",
    **extra,
):
    params = {"referenceName": chrom, "start": start, "assemblyId": "GRCh38"}
    if ref is not None:
        params["referenceBases"] = ref
    if alt is not None:
        params["alternateBases"] = alt
    if end is not None:
        params["end"] = end
    body = {
        "meta": {"apiVersion": "2.0"},
        "query": {"requestParameters": params, "filters": [], **extra},
        "requestedGranularity": granularity,
    }
    return client.post(path, body, format="json")


def individuals(client, *, filters=(), variant=None, granularity="count", path="/beacon/v2/individuals", **query):
    body = {
        "meta": {"apiVersion": "2.0"},
        "query": {
            "requestParameters": {"g_variant": variant} if variant else [],
            "filters": list(filters),
            "requestedGranularity": granularity,
            **query,
        },
    }
    return client.post(path, body, format="json")


def frequencies(body: dict) -> dict:
    """{population: (ac, an, af)} of the first variant of the first result set."""
    [result_set] = body["response"]["resultSets"]
    [variant] = result_set["results"]
    return {
        f["population"]: (f["alleleCount"], f["alleleNumber"], f["alleleFrequency"])
        for f in variant["frequencyInPopulations"][0]["frequencies"]
    }
