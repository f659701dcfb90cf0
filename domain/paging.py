"""Opaque, signed cursors for the newest-first target listing."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass

from domain import validation
from domain.errors import BadUserInput
from domain.models import Target

_SIGNATURE_BYTES = 12
_SEPARATOR = "|"


@dataclass(frozen=True, slots=True)
class Cursor:
    """The (tm_create, id) of the last edge a client has seen."""

    tm_create: str
    id: str

    @classmethod
    def after(cls, target: Target) -> Cursor:
        return cls(target.tm_create, target.id)


class CursorCodec:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def for_outdials(self) -> CursorCodec:
        """The codec of the outdial listing: signed apart, so target cursors do not pass there."""
        return CursorCodec(self._secret + b"|outdials")

    def encode_outdial(self, outdial_id: str) -> str:
        return self.encode(Cursor("", outdial_id))

    def decode_outdial(self, text: str, field_name: str = "after") -> str:
        return self.decode(text, field_name).id

    def encode(self, cursor: Cursor) -> str:
        body = f"{cursor.tm_create}{_SEPARATOR}{cursor.id}".encode()
        token = self._sign(body) + body
        return base64.urlsafe_b64encode(token).decode().rstrip("=")

    def decode(self, text: str, field_name: str = "after") -> Cursor:
        token = self._unpad(text, field_name)
        signature, body = token[:_SIGNATURE_BYTES], token[_SIGNATURE_BYTES:]
        if not hmac.compare_digest(signature, self._sign(body)):
            raise BadUserInput(field_name, "is not a cursor this server issued")
        tm_create, _, target_id = body.decode().partition(_SEPARATOR)
        return Cursor(tm_create, validation.uuid_arg(target_id, field_name))

    def _sign(self, body: bytes) -> bytes:
        return hmac.new(self._secret, body, hashlib.sha256).digest()[:_SIGNATURE_BYTES]

    @staticmethod
    def _unpad(text: str, field_name: str) -> bytes:
        try:
            return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError) as error:
            raise BadUserInput(field_name, "is not a cursor this server issued") from error
