"""TRUSTED_ISSUERS entries: checked at start-up, defaults that deny, a clear error for a typo."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from gdi_archive.common.issuers import DEFAULT_MAX_VISA_LIFETIME, parse_trusted_issuers, source_matches

REPO = Path(__file__).resolve().parents[2]
BROKER = {"iss": "https://broker.example/", "jku": "https://broker.example/jwk"}


def test_defaults_deny():
    [entry] = parse_trusted_issuers([BROKER])
    assert entry == {
        "iss": "https://broker.example",
        "jku": "https://broker.example/jwk",
        "userinfo": None,
        "grants": {"datasets": [], "dacs": []},
        "by": ["dac"],
        "sources": None,
        "link_identities": False,
        "max_visa_lifetime": DEFAULT_MAX_VISA_LIFETIME,
    }
    assert DEFAULT_MAX_VISA_LIFETIME == 31 * 86400
    assert parse_trusted_issuers([entry]) == [entry]  # parsing twice changes nothing


def test_a_full_entry_is_kept():
    full = {
        **BROKER,
        "userinfo": "https://broker.example/userinfo",
        "grants": {"datasets": ["GDID00000000001"], "dacs": ["GDIC00000000001"]},
        "by": ["dac", "so"],
        "sources": ["https://rems.example/dac/"],
        "link_identities": True,
        "max_visa_lifetime": 3600,
    }
    [entry] = parse_trusted_issuers([full])
    assert entry["grants"] == full["grants"] and entry["by"] == ["dac", "so"]
    assert entry["sources"] == ["https://rems.example/dac"] and entry["link_identities"] is True
    assert entry["max_visa_lifetime"] == 3600


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"iss": None}, "'iss' must be"),
        ({"jku": "ftp://broker.example/jwk"}, "'jku' must be an http(s) URL"),
        ({"grant": {"dacs": []}}, "unknown field"),  # a typo must not silently grant nothing or everything
        ({"grants": ["GDID00000000001"]}, '"grants" must be an object'),
        ({"grants": {"dataset": ["GDID00000000001"]}}, '"grants" must be an object'),
        ({"grants": {"dacs": "GDIC00000000001"}}, "'grants.dacs' must be a list"),
        ({"by": "dac"}, "'by' must be a list"),
        ({"by": []}, '"by" must name at least one value'),
        ({"sources": []}, '"sources" must be a non-empty list'),
        ({"sources": ["rems.example/dac"]}, "'sources' must be an http(s) URL"),
        ({"link_identities": "yes"}, '"link_identities" must be true or false'),
        ({"max_visa_lifetime": "3600"}, '"max_visa_lifetime" must be a whole number'),
        ({"max_visa_lifetime": 0}, '"max_visa_lifetime" must be a whole number'),
        ({"max_visa_lifetime": True}, '"max_visa_lifetime" must be a whole number'),
    ],
)
def test_bad_entries_are_refused_by_name(change, message):
    with pytest.raises(ImproperlyConfigured, match="entry 0") as caught:
        parse_trusted_issuers([{**BROKER, **change}])
    assert message in str(caught.value)


def test_not_a_list_and_twice_the_same_issuer_are_refused():
    with pytest.raises(ImproperlyConfigured, match="JSON list"):
        parse_trusted_issuers(BROKER)
    with pytest.raises(ImproperlyConfigured, match="twice"):
        parse_trusted_issuers([BROKER, {**BROKER, "iss": "https://broker.example"}])


@pytest.mark.parametrize(
    ("source", "prefix", "matches"),
    [
        ("https://x/dac", "https://x/dac", True),
        ("https://x/dac/1", "https://x/dac", True),
        ("https://x/dac/", "https://x/dac/", True),
        ("https://x/dac", "https://x/dac/", True),
        ("https://x/dac-evil", "https://x/dac", False),
        ("https://x/dac-evil", "https://x/dac/", False),
        ("https://x/da", "https://x/dac", False),
        ("https://x/dac/../evil", "https://x/dac", False),
        ("https://x/dac?next=/evil", "https://x/dac", False),
        ("https://x/dac#frag", "https://x/dac", False),
    ],
)
def test_sources_match_on_whole_path_segments(source, prefix, matches):
    assert source_matches(source, prefix) is matches


def test_the_archive_refuses_to_start_with_a_bad_entry(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "gdi_archive.settings",
        "DATA_DIR": str(tmp_path),
        "TRUSTED_ISSUERS": json.dumps([{**BROKER, "grants": {"dacs": "GDIC00000000001"}}]),
    }
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "TRUSTED_ISSUERS entry 0" in result.stderr
    assert "grants.dacs" in result.stderr
