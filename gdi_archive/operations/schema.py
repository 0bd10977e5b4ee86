"""OpenAPI extensions so /api/schema describes how to authenticate and every endpoint (drf-spectacular)."""

import re

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class PassportBearerScheme(OpenApiAuthenticationExtension):
    target_class = "gdi_archive.passports.authentication.PassportAuthentication"
    name = "passportBearer"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A GA4GH passport token from this archive (POST /api/tokens or the Access tokens page) "
            "or from a broker the operator trusts.",
        }


def _text(description: str, media: str = "application/json", schema: dict | None = None) -> dict:
    return {"description": description, "content": {media: {"schema": schema or {"type": "object"}}}}


_ERROR = {
    "type": "object",
    "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
    "required": ["error", "detail"],
}

_SERVICE_INFO = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "description": {"type": "string"},
        "type": {
            "type": "object",
            "properties": {"group": {"type": "string"}, "artifact": {"type": "string"}, "version": {"type": "string"}},
            "required": ["group", "artifact", "version"],
        },
        "organization": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "url": {"type": "string"}},
            "required": ["name", "url"],
        },
        "version": {"type": "string"},
        "environment": {"type": "string"},
    },
    "required": ["id", "name", "type", "organization", "version"],
}
_HEALTH = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["ok", "degraded", "unavailable"]},
        "checks": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "database, broker, storage.<store>: ok, unavailable or not configured; "
            "queue.<queue>: ok or no consumer.",
        },
        "unconsumed_queues": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["status"],
}
_JWK = {
    "type": "object",
    "properties": {
        "kty": {"type": "string"},
        "kid": {"type": "string"},
        "alg": {"type": "string", "enum": ["RS256", "ES256"]},
        "use": {"type": "string", "enum": ["sig"]},
    },
    "required": ["kty", "kid", "alg", "use"],
}
_JWKS_ANSWER = {
    "200": _text(
        "A JSON Web Key Set.",
        schema={"type": "object", "properties": {"keys": {"type": "array", "items": _JWK}}, "required": ["keys"]},
    )
}

# Endpoints that are plain Django views (no DRF serializer to read), described by hand so that
# /api/schema covers every endpoint. Each is added only if its route exists.
PLAIN_ENDPOINTS = {
    "/service-info": (
        "service-info",
        "GA4GH service-info for the archive.",
        {"200": _text("Service information.", schema=_SERVICE_INFO)},
    ),
    "/health/live": ("health-live", "The process answers.", {"200": _text("Alive.", schema=_HEALTH)}),
    "/health/ready": (
        "health-ready",
        "Database, broker and object stores reachable; `degraded` when a queue has no worker consuming it.",
        {
            "200": _text(
                "Ready (`status` ok), or `degraded`: `unconsumed_queues` names queues no worker consumes.",
                schema=_HEALTH,
            ),
            "503": _text("Not ready; `checks` names what is unavailable.", schema=_HEALTH),
        },
    ),
    "/metrics": (
        "metrics",
        "Prometheus metrics (bearer METRICS_TOKEN, or loopback only when none is set).",
        {
            "200": _text("Prometheus text format.", "text/plain", {"type": "string"}),
            "403": _text("Not allowed.", schema=_ERROR),
        },
    ),
    "/.well-known/jwks.json": (
        "jwks",
        "Public keys that verify this archive's visas and passport tokens.",
        _JWKS_ANSWER,
    ),
    "/api/jwk": (
        "jwks-rems",
        "The same JWKS at the path LS-AAI registers for a REMS visa source.",
        _JWKS_ANSWER,
    ),
    "/api/archive-key": (
        "archive-key",
        "The Crypt4GH public key submitters encrypt to (no token needed).",
        {"200": _text("A Crypt4GH public key file.", "text/plain", {"type": "string"})},
    ),
    "/api/blocks/{accession}": (
        "htsget-blocks",
        "Bytes for an htsget ticket URL, authorised by the short-lived signature in its query string.",
        {
            "200": _text(
                "The Crypt4GH stream (DRS links).", "application/octet-stream", {"type": "string", "format": "binary"}
            ),
            "206": _text(
                "The bytes the link covers (or the Range asked for within them).",
                "application/octet-stream",
                {"type": "string", "format": "binary"},
            ),
            "404": _text("Unknown, expired or forged link.", schema=_ERROR),
            "416": _text("The Range asked for lies outside the bytes the link covers.", schema=_ERROR),
            "503": _text("The archive storage is not reachable; retry.", schema=_ERROR),
        },
    ),
    "/api/exports/{export_id}/files/{accession}": (
        "export-file",
        "A finished export's Crypt4GH copy, through the signed link "
        "GET /api/exports/{id} gives (valid for EXPORT_LINK_TTL; no token).",
        {
            "200": _text("The Crypt4GH file.", "application/octet-stream", {"type": "string", "format": "binary"}),
            "206": _text("Part of it (Range).", "application/octet-stream", {"type": "string", "format": "binary"}),
            "404": _text("Unknown, expired or forged link.", schema=_ERROR),
            "503": _text("The outbox is not reachable; retry.", schema=_ERROR),
        },
    ),
}


def add_plain_endpoints(result, generator, request, public):
    """drf-spectacular postprocessing hook: document the plain views that exist."""
    from django.urls import Resolver404, resolve

    paths = result.setdefault("paths", {})
    for path, (name, summary, responses) in PLAIN_ENDPOINTS.items():
        if path in paths:
            continue
        try:
            resolve(path)
        except Resolver404:
            continue
        operation = {
            "operationId": name.replace("-", "_"),
            "summary": summary,
            "tags": ["service"],
            "security": [{}],
            "responses": responses,
        }
        parameters = re.findall(r"\{(\w+)\}", path)
        if parameters:
            operation["parameters"] = [
                {"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in parameters
            ]
        paths[path] = {"get": operation}
    return result
