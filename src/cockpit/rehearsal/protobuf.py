"""Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`), decoded to JSON."""

from __future__ import annotations

from cockpit.rehearsal.store import JSON


class ProtobufError(Exception):
    """The body cannot be decoded; the API answers 415 and names what it accepts."""


def decode_object(raw: bytes) -> JSON:
    raise ProtobufError("not decoded")
