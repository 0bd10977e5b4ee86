"""Scoped brokers and identity links (design.md 7, "Trust, scoped"): each attack its own test.

A broker is trusted only for what its TRUSTED_ISSUERS entry says: the datasets or DACs in
`grants`, the `by` values in `by`, the `source` prefixes in `sources`, visas that live at most
`max_visa_lifetime`, and links into our own users only with `link_identities`. Visas are signed
by a real broker (PyJWT, its JWKS over HTTP) and sent as bearer tokens through the API.
"""

import logging
import time
from urllib.parse import quote

import pytest
from django.test import override_settings

from tests.conftest import client_for
from tests.passports.conftest import grant, make_dataset
from tests.passports.test_clearinghouse import assert_refused, granted


@pytest.fixture
def scoped(broker):
    """`scoped(**entry)`: trust the broker with exactly that scope for the rest of the test."""
    overrides = []

    def apply(**entry):
        override = override_settings(TRUSTED_ISSUERS=[broker.trust_entry(**entry)])
        override.enable()
        overrides.append(override)
        return broker

    yield apply
    for override in reversed(overrides):
        override.disable()


@pytest.fixture
def foreign_dataset(other_dac):
    """A dataset of another DAC than the one the broker is trusted for."""
    return make_dataset(other_dac, title="Another DAC's cohort")


def scope_warnings(caplog) -> str:
    return " ".join(
        r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and "out of scope" in r.getMessage()
    )


# --- grants --------------------------------------------------------------------------------------


def test_no_grants_in_the_entry_opens_nothing(api, scoped, dataset, caplog):
    broker = scoped()  # an entry with iss and jku only: deny by default
    with caplog.at_level(logging.WARNING, logger="gdi_archive.passports.clearinghouse"):
        assert granted(api, broker.passport([broker.visa(value=dataset.url)])) == []
    assert "outside this issuer's grants" in scope_warnings(caplog)


def test_dataset_outside_grants_opens_nothing_and_the_rest_still_works(
    api, scoped, dataset, other_dataset, foreign_dataset, caplog
):
    broker = scoped(grants={"datasets": [dataset.accession]})
    visas = [
        broker.visa(value=dataset.url),
        broker.visa(value=other_dataset.url),
        broker.visa(value=foreign_dataset.url),
    ]
    with caplog.at_level(logging.WARNING, logger="gdi_archive.passports.clearinghouse"):
        assert granted(api, broker.passport(visas)) == [dataset.accession]
    warnings = scope_warnings(caplog)
    assert other_dataset.accession in warnings and foreign_dataset.accession in warnings


def test_dataset_inside_a_granted_dac_opens_and_another_dacs_does_not(
    api, scoped, dac, dataset, other_dataset, foreign_dataset
):
    broker = scoped(grants={"dacs": [dac.accession]})
    visas = [broker.visa(value=d.url) for d in (dataset, other_dataset, foreign_dataset)]
    assert granted(api, broker.passport(visas)) == sorted([dataset.accession, other_dataset.accession])


# --- by ------------------------------------------------------------------------------------------


def test_by_self_opens_nothing(api, scoped, dac, dataset, other_dataset, caplog):
    """The hole: the user's own assertion (`by: self`) opened a DAC's dataset."""
    broker = scoped(grants={"dacs": [dac.accession]})
    with caplog.at_level(logging.WARNING, logger="gdi_archive.passports.clearinghouse"):
        assert granted(api, broker.passport([broker.visa(value=dataset.url, by="self")])) == []
    assert "by 'self' is not accepted" in scope_warnings(caplog)
    # The same passport with another, proper grant still works for that one.
    visas = [broker.visa(value=dataset.url, by="self"), broker.visa(value=other_dataset.url, by="dac")]
    assert granted(api, broker.passport(visas)) == [other_dataset.accession]


@pytest.mark.parametrize("by", ["so", "system", "peer", "DAC", ""])
def test_only_dac_is_accepted_by_default(api, scoped, dac, dataset, by):
    broker = scoped(grants={"dacs": [dac.accession]})
    assert granted(api, broker.passport([broker.visa(value=dataset.url, by=by)])) == []


def test_by_values_can_be_widened_per_issuer(api, scoped, dac, dataset):
    broker = scoped(grants={"dacs": [dac.accession]}, by=["dac", "so"])
    assert granted(api, broker.passport([broker.visa(value=dataset.url, by="so")])) == [dataset.accession]
    assert granted(api, broker.passport([broker.visa(value=dataset.url, by="self")])) == []


# --- sources -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "https://rems.example/dac-evil",  # the prefix trick: not a whole path segment
        "https://rems.example/dacevil/1",
        "https://rems.example",
        "https://rems.example/other/dac",
        "https://evil.example/dac",
        "https://rems.example.evil/dac",
        "https://rems.example/dac/../dac-evil",
        "https://rems.example/dac/%2e%2e/dac-evil",
        "https://rems.example/dac?x=1",
        "http://rems.example/dac",
    ],
)
def test_source_outside_sources_opens_nothing(api, scoped, dac, dataset, source, caplog):
    broker = scoped(grants={"dacs": [dac.accession]}, sources=["https://rems.example/dac/"])
    with caplog.at_level(logging.WARNING, logger="gdi_archive.passports.clearinghouse"):
        assert granted(api, broker.passport([broker.visa(value=dataset.url, source=source)])) == []
    assert "outside this issuer's sources" in scope_warnings(caplog)


@pytest.mark.parametrize(
    "source",
    [
        "https://rems.example/dac",
        "https://rems.example/dac/",
        "https://rems.example/dac/1",
        "https://rems.example/dac/1/",
    ],
)
def test_source_on_a_whole_segment_below_a_prefix_opens(api, scoped, dac, dataset, source):
    broker = scoped(grants={"dacs": [dac.accession]}, sources=["https://rems.example/dac"])
    assert granted(api, broker.passport([broker.visa(value=dataset.url, source=source)])) == [dataset.accession]


# --- time: nbf and lifetime ----------------------------------------------------------------------


def test_visa_nbf_in_the_future_is_401(api, scoped, dac, dataset, caplog):
    broker = scoped(grants={"dacs": [dac.accession]})
    visa = broker.visa(value=dataset.url, extra={"nbf": int(time.time()) + 3600}, exp_in=7200)
    assert_refused(api, broker.passport([visa]), caplog, "nbf")


def test_passport_nbf_in_the_future_is_401(api, scoped, dac, dataset, caplog):
    broker = scoped(grants={"dacs": [dac.accession]})
    token = broker.passport([broker.visa(value=dataset.url)], extra={"nbf": int(time.time()) + 3600}, exp_in=7200)
    assert_refused(api, token, caplog, "nbf")


def test_nbf_in_the_past_is_fine(api, scoped, dac, dataset):
    broker = scoped(grants={"dacs": [dac.accession]})
    visa = broker.visa(value=dataset.url, extra={"nbf": int(time.time()) - 60})
    token = broker.passport([visa], extra={"nbf": int(time.time()) - 60})
    assert granted(api, token) == [dataset.accession]


def test_visa_lifetime_over_the_default_31_days_is_401(api, scoped, dac, dataset, caplog):
    broker = scoped(grants={"dacs": [dac.accession]})
    visa = broker.visa(value=dataset.url, exp_in=32 * 86400)
    assert_refused(api, broker.passport([visa]), caplog, "lifetime")


def test_visa_lifetime_over_the_issuers_maximum_is_401_for_every_visa_type(api, scoped, dac, dataset, caplog):
    broker = scoped(grants={"dacs": [dac.accession]}, max_visa_lifetime=600)
    assert granted(api, broker.passport([broker.visa(value=dataset.url, exp_in=590)])) == [dataset.accession]
    status = broker.visa(type_="ResearcherStatus", value="https://doi.org/10.1038/s41431-018-0219-y", by="so")
    assert_refused(api, broker.passport([status]), caplog, "lifetime")  # 3600 s > 600 s


# --- identity links into this archive's users ------------------------------------------------------


def _alice_visa_and_link(broker, applicant, dataset, dac_member):
    grant(applicant, dataset, granted_by=dac_member)
    [our_visa] = client_for(applicant).get("/api/permissions/alice").json()["ga4gh_passport_v1"]
    link = broker.visa(
        type_="LinkedIdentities", value=f"alice,{quote('http://testserver', safe='')}", source=broker.iss, by="system"
    )
    return our_visa, link


def test_linked_identities_into_a_local_user_without_link_identities_grants_nothing(
    api, scoped, dac, applicant, dataset, other_dataset, dac_member, caplog
):
    """The hole: a broker linked its subject to local alice and her archive-signed visa opened her dataset."""
    broker = scoped(grants={"dacs": [dac.accession]})
    our_visa, link = _alice_visa_and_link(broker, applicant, dataset, dac_member)
    with caplog.at_level(logging.INFO, logger="gdi_archive.passports.clearinghouse"):
        assert granted(api, broker.passport([our_visa, link])) == []
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "link_identities is false" in messages
    # The token still works for the broker's own, in-scope grant.
    token = broker.passport([our_visa, link, broker.visa(value=other_dataset.url)])
    assert granted(api, token) == [other_dataset.accession]


def test_linked_identities_into_a_local_user_counts_with_link_identities(
    api, scoped, dac, applicant, dataset, dac_member
):
    broker = scoped(grants={"dacs": []}, link_identities=True)  # it grants nothing itself
    our_visa, link = _alice_visa_and_link(broker, applicant, dataset, dac_member)
    assert granted(api, broker.passport([our_visa, link])) == [dataset.accession]


def test_link_through_a_second_broker_without_link_identities_grants_nothing(
    api, broker, dac, applicant, dataset, dac_member
):
    """Broker A links to B's subject, B (no link_identities) links that subject to local alice."""
    from tests.passports.conftest import Broker

    second = Broker()
    try:
        with override_settings(
            TRUSTED_ISSUERS=[
                broker.trust_entry(grants={"dacs": [dac.accession]}, link_identities=True),
                {"iss": second.iss, "jku": broker.jku},  # signed with the first broker's key
            ]
        ):
            grant(applicant, dataset, granted_by=dac_member)
            [our_visa] = client_for(applicant).get("/api/permissions/alice").json()["ga4gh_passport_v1"]
            a_to_b = broker.visa(
                type_="LinkedIdentities", value=f"bee,{quote(second.iss, safe='')}", source=broker.iss, by="system"
            )
            b_to_alice = broker.visa(
                iss=second.iss,
                sub="bee",
                type_="LinkedIdentities",
                value=f"alice,{quote('http://testserver', safe='')}",
                source=second.iss,
                by="system",
            )
            assert granted(api, broker.passport([our_visa, a_to_b, b_to_alice])) == []
    finally:
        second.server_close()


def test_broker_sub_equal_to_a_local_username_does_not_get_that_users_archive_visa(
    api, scoped, dac, applicant, dataset, dac_member, caplog
):
    """A broker passport with `sub: alice` carrying local alice's archive-signed visa: not alice."""
    broker = scoped(grants={"dacs": [dac.accession]}, link_identities=True)
    our_visa, _ = _alice_visa_and_link(broker, applicant, dataset, dac_member)
    assert_refused(api, broker.passport([our_visa], sub="alice"), caplog, "not linked")
