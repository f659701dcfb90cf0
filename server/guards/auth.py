"""Bearer tokens and their scopes: who may read, who may also write.

Tokens are configured as SHA-256 hex digests only, so neither the configuration nor a
memory dump holds a usable token, and no token is ever logged.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from domain.errors import Forbidden, Unauthenticated
from resolvers.context import Context, Scope

logger = logging.getLogger("outdial.auth")

SCOPES: dict[str, Scope] = {"read": "read", "write": "write"}
_DIGEST = re.compile(r"[0-9a-fA-F]{64}")
_BEARER = re.compile(r"Bearer[ \t]+(\S+)[ \t]*", re.IGNORECASE)

HASH_HINT = 'printf %s "$TOKEN" | sha256sum'


@dataclass(frozen=True, slots=True)
class Credential:
    scope: Scope
    digest: bytes
    label: str = ""

    def __repr__(self) -> str:
        return f"Credential(scope={self.scope!r}, label={self.label!r})"


def parse_credentials(entries: Iterable[tuple[str, str]]) -> tuple[Credential, ...]:
    """(where, "scope digest [label]") pairs into credentials; ValueError names the bad one."""
    return tuple(_credential(where, entry) for where, entry in entries)


def token_entries(
    variable: str | None, file_text: str | None, file_name: str
) -> Iterator[tuple[str, str]]:
    """The entries of AUTH_TOKENS ("scope:digest[:label]", comma-separated) and of the file."""
    for number, item in enumerate((variable or "").split(","), 1):
        if item.strip():
            yield f"AUTH_TOKENS entry {number}", item.strip().replace(":", " ", 2)
    for number, line in enumerate((file_text or "").splitlines(), 1):
        if line.strip() and not line.lstrip().startswith("#"):
            yield f"{file_name} line {number}", line.strip()


def _credential(where: str, entry: str) -> Credential:
    name, _, rest = entry.partition(" ")
    digest, _, label = rest.strip().partition(" ")
    scope = SCOPES.get(name)
    if scope is None:
        raise ValueError(f"{where}: scope must be one of {', '.join(SCOPES)}, got {name!r}")
    if not _DIGEST.fullmatch(digest):
        raise ValueError(
            f"{where}: expected the token's SHA-256 as 64 hex digits ({HASH_HINT}), "
            "not the token itself"
        )
    return Credential(scope=scope, digest=bytes.fromhex(digest), label=label.strip())


class Authenticator:
    """Turns presented credentials into a scope; with no tokens configured everyone may write."""

    def __init__(self, credentials: Sequence[Credential]) -> None:
        self.credentials = tuple(credentials)

    @property
    def enabled(self) -> bool:
        return bool(self.credentials)

    def scope_of(self, authorization: object) -> Scope | None:
        """The scope an Authorization value ("Bearer <token>") grants; None when it grants none."""
        if not self.enabled:
            return "write"
        if not isinstance(authorization, str):
            return None
        match = _BEARER.fullmatch(authorization)
        if match is None:
            return None
        digest = hashlib.sha256(match.group(1).encode()).digest()
        granted: Scope | None = None
        for credential in self.credentials:
            # Every entry is compared, so the time taken says nothing about which one matched.
            if hmac.compare_digest(digest, credential.digest):
                granted = credential.scope
        return granted

    def connection_scope(
        self, upgrade_scope: Scope | None, init_payload: Mapping[str, object] | None
    ) -> Scope | None:
        """A websocket's scope: from connection_init's authorization if any, else the upgrade's."""
        payload = init_payload or {}
        for key in ("authorization", "Authorization"):
            if key in payload:
                return self.scope_of(payload[key])
        return upgrade_scope

    def warn_if_open(self) -> None:
        if not self.enabled:
            logger.warning(
                "no AUTH_TOKENS or AUTH_TOKENS_FILE configured: anyone who can reach this "
                "service can read and change every target (set REQUIRE_AUTH=1 to refuse this)"
            )


def scope_refusal(
    scope: Scope | None, operation_type: OperationType | None = None
) -> Unauthenticated | Forbidden | None:
    """What refuses a caller with `scope` before any resolver runs: no valid token at all, or
    (once the operation's type is known) a mutation without the write scope."""
    if scope is None:
        return Unauthenticated("a valid bearer token is required")
    if operation_type is OperationType.MUTATION and scope != "write":
        return Forbidden("mutations need a token with the write scope")
    return None


class ScopeCheck(SchemaExtension):
    """Once per operation, before any resolver: mutations need the write scope."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context.context
        scope = context.scope if isinstance(context, Context) else None
        refusal = scope_refusal(scope, self.execution_context.operation_type)
        if refusal is not None:
            raise refusal
        yield
