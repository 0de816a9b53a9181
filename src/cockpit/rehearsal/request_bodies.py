"""A request's body as the API server reads it: JSON, YAML or protobuf, of the kind and
version the URL names, unknown fields refused, dropped or warned about (fieldValidation)."""

from __future__ import annotations

import json
from typing import Any

import yaml
from aiohttp import web

from cockpit.rehearsal.field_validation import unknown_fields
from cockpit.rehearsal.protobuf import ProtobufError, decode_object
from cockpit.rehearsal.store import JSON, ApiError, Kind

WARNINGS = web.RequestKey("warnings", list[str])  # fieldValidation=Warn: sent as Warning headers


def unsupported_media(content_type: str, accepted: tuple[str, ...]) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: "
        f"{', '.join(accepted)}",
        {"causes": [{"reason": "UnexpectedServerResponse", "message": content_type}]},
    )


def decode_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, "BadRequest", f"the request body is not valid JSON: {exc}") from None


async def read_body(request: web.Request, kind: Kind, subresource: str | None = None) -> JSON:
    raw = await request.read()
    content_type = request.headers.get("Content-Type", "application/json").split(";")[0]
    if content_type.strip() == "application/vnd.kubernetes.protobuf":
        try:
            body = decode_object(raw)
        except ProtobufError as exc:
            raise unsupported_media(
                f"application/vnd.kubernetes.protobuf ({exc})",
                ("application/json", "application/yaml"),
            ) from None
    elif content_type.strip() in ("application/json", ""):
        body = decode_json(raw)
    elif content_type.strip() == "application/yaml":
        try:
            body = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ApiError(
                400, "BadRequest", f"the request body is not valid YAML: {exc}"
            ) from None
    else:
        raise unsupported_media(
            content_type,
            ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf"),
        )
    if not isinstance(body, dict):
        raise ApiError(400, "BadRequest", "the request body is not an object")
    sent = (body.get("apiVersion"), body.get("kind"))
    expected = (
        ("autoscaling/v1", "Scale")
        if subresource == "scale"
        else (
            kind.api_version,
            kind.kind,
        )
    )
    if sent not in ((None, None), expected):
        raise ApiError(
            400,
            "BadRequest",
            f"the API version in the data ({sent[0]}) does not match the expected API "
            f"version ({expected[0]})"
            if sent[0] != expected[0]
            else f"{sent[1]} in version {expected[0]!r} cannot be handled as a {expected[1]}",
        )
    if subresource != "scale":
        validate_fields(request, kind, body)
    return body


def validate_fields(request: web.Request, kind: Kind, body: Any) -> None:
    """fieldValidation: Strict refuses unknown fields; Warn and Ignore (the default) drop
    them, Warn with a warning per field, as a real API server does."""
    if not isinstance(body, dict):
        return
    mode = request.query.get("fieldValidation", "Ignore")
    if mode not in ("Ignore", "Warn", "Strict"):
        raise ApiError(
            400,
            "BadRequest",
            f'Invalid field validation directive: "{mode}": supported values: "Ignore", '
            '"Warn", "Strict"',
        )
    unknown = unknown_fields(kind, body, prune=mode != "Strict")
    if unknown and mode == "Strict":
        raise ApiError(
            400,
            "BadRequest",
            f'{kind.kind} in version "{kind.version}" cannot be handled as a '
            f"{kind.kind}: strict decoding error: "
            + ", ".join(f'unknown field "{f}"' for f in unknown),
        )
    if unknown and mode == "Warn":
        request[WARNINGS] = [f'unknown field "{f}"' for f in unknown]


async def optional_body(request: web.Request) -> JSON:
    raw = await request.read()
    if not raw.strip():
        return {}
    if "protobuf" in request.headers.get("Content-Type", ""):
        try:
            return decode_object(raw)
        except ProtobufError:
            return {}
    body = decode_json(raw)
    return body if isinstance(body, dict) else {}
