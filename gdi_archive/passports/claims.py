"""Typed shapes of the JWTs we read (standards.md A.3, A.4, A.9); no Django here.

Anything that does not fit (a missing claim, a string where a number belongs, a URL longer
than 255 characters) fails validation, and the caller refuses the token.
"""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

URL_MAX = 255
SUPPORTED_ALGS = frozenset({"RS256", "ES256"})
PASSPORT_TYP = "vnd.ga4gh.passport+jwt"
VISA_TYPS = frozenset({"vnd.ga4gh.visa+jwt", "JWT", "at+jwt"})

# Visa types whose `value` is a URL (A.8).
URL_VALUED_TYPES = frozenset({"AcceptedTermsAndPolicies", "ResearcherStatus", "ControlledAccessGrants"})
STANDARD_TYPES = URL_VALUED_TYPES | {"AffiliationAndRole", "LinkedIdentities"}

Short = Annotated[str, Field(min_length=1, max_length=URL_MAX)]
Epoch = Annotated[int, Field(ge=0, le=2**40)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class JoseHeader(_Strict):
    alg: str
    kid: Short | None = None
    jku: Short | None = None
    typ: str | None = None
    crit: list[str] | None = None

    @field_validator("alg")
    @classmethod
    def _supported(cls, value):
        if value not in SUPPORTED_ALGS:
            raise ValueError(f"algorithm {value!r} is not allowed (RS256 or ES256 only)")
        return value

    @field_validator("crit")
    @classmethod
    def _no_crit(cls, value):
        if value:
            raise ValueError("critical header extensions are not supported")
        return value


class VisaObject(_Strict):
    type: Short
    asserted: Epoch
    value: Annotated[str, Field(min_length=1, max_length=8192)]
    source: Short
    by: Annotated[str, Field(max_length=64)] | None = None
    conditions: list[list[dict]] | None = None

    @field_validator("value")
    @classmethod
    def _url_values_are_short(cls, value, info):
        if info.data.get("type") in URL_VALUED_TYPES and len(value) > URL_MAX:
            raise ValueError("URL-valued visa values may not exceed 255 characters")
        return value


class VisaClaims(_Strict):
    iss: Short
    sub: Short
    iat: Epoch
    exp: Epoch
    nbf: Epoch | None = None
    jti: Short | None = None
    scope: Annotated[str, Field(max_length=2048)] | None = None
    ga4gh_visa_v1: VisaObject


class PassportClaims(_Strict):
    iss: Short
    sub: Short
    iat: Epoch
    exp: Epoch
    nbf: Epoch | None = None
    jti: Short | None = None
    aud: Short | list[Short] | None = None
    ga4gh_passport_v1: Annotated[list[Annotated[str, Field(max_length=8192)]], Field(max_length=100)]


class AccessTokenClaims(_Strict):
    """A broker's JWT access token (A.10); its visas come from the userinfo endpoint."""

    iss: Short
    sub: Short
    iat: Epoch
    exp: Epoch
    nbf: Epoch | None = None
    scope: Annotated[str, Field(max_length=2048)] | None = None


class UserInfo(_Strict):
    sub: Short
    ga4gh_passport_v1: Annotated[list[Annotated[str, Field(max_length=8192)]], Field(max_length=100)] = []
