"""GraphQL documents the tests send, written once."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from tests.support.api import OUTDIAL, GraphQLClient

TARGET_FIELDS = """
  id outdialId name detail data status
  destination0 { type target targetName name detail }
  destination1 { type target targetName name detail }
  destination2 { type target targetName name detail }
  destination3 { type target targetName name detail }
  destination4 { type target targetName name detail }
  tryCount0 tryCount1 tryCount2 tryCount3 tryCount4
  tmCreate tmUpdate tmDelete
"""

GET = f"query($id: ID!) {{ outdialtarget(id: $id) {{ {TARGET_FIELDS} }} }}"
CREATE = f"""mutation($input: CreateOutdialtargetInput!) {{
  createOutdialtarget(input: $input) {{ {TARGET_FIELDS} }} }}"""
CREATE_MANY = f"""mutation($inputs: [CreateOutdialtargetInput!]!) {{
  createOutdialtargets(inputs: $inputs) {{ {TARGET_FIELDS} }} }}"""
UPDATE = f"""mutation($id: ID!, $input: UpdateOutdialtargetInput!) {{
  updateOutdialtarget(id: $id, input: $input) {{ {TARGET_FIELDS} }} }}"""
DELETE = f"mutation($id: ID!) {{ deleteOutdialtarget(id: $id) {{ {TARGET_FIELDS} }} }}"
MARK = f"""mutation($id: ID!, $slot: Int!) {{
  markOutdialtargetProgressing(id: $id, destinationIndex: $slot) {{ {TARGET_FIELDS} }} }}"""
REPORT = f"""mutation($id: ID!, $status: OutdialtargetStatus!) {{
  updateOutdialtargetStatus(id: $id, status: $status) {{ {TARGET_FIELDS} }} }}"""
CLAIM = f"""mutation($outdialId: ID!, $max: [Int!]!, $retry: Int! = 0) {{
  claimOutdialtarget(outdialId: $outdialId, maxTryCounts: $max, retryIntervalMs: $retry) {{
    claimToken destinationIndex destination {{ type target }} target {{ {TARGET_FIELDS} }} }} }}"""
AVAILABLE = """query($outdialId: ID!, $max: [Int!]!, $retry: Int! = 0, $limit: Int! = 100) {
  availableOutdialtargets(outdialId: $outdialId, maxTryCounts: $max,
                          retryIntervalMs: $retry, limit: $limit) { id tryCount0 tryCount1 } }"""
LIST = f"""query($outdialId: ID!, $status: OutdialtargetStatus,
            $first: Int! = 100, $after: String) {{
  outdialtargets(outdialId: $outdialId, status: $status, first: $first, after: $after) {{
    edges {{ cursor node {{ {TARGET_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"""
COUNTS = """query($outdialId: ID!) {
  outdialtargetCounts(outdialId: $outdialId) { idle progressing done total } }"""


def tel(number: str = "+821100000001", **extra: Any) -> dict[str, Any]:
    return {"type": "TEL", "target": number, **extra}


def new_input(outdial_id: str, **fields: Any) -> dict[str, Any]:
    fields.setdefault("destination0", tel())
    return {"outdialId": outdial_id, **fields}


# persisted operations (APQ): the hash, the body, the body as GET parameters


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def persisted(query: str, *, text: bool = False, **variables: Any) -> dict[str, Any]:
    """An APQ body for `query` (with its text when `text`); variables default to OUTDIAL's."""
    body: dict[str, Any] = {
        "variables": variables or {"outdialId": OUTDIAL},
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256(query)}},
    }
    return body | ({"query": query} if text else {})


def as_params(body: dict[str, Any]) -> dict[str, str]:
    return {key: value if key == "query" else json.dumps(value) for key, value in body.items()}


async def create(gql: GraphQLClient, count: int, outdial: str = OUTDIAL) -> list[dict]:
    created: list[dict] = []
    for start in range(0, count, 100):
        batch = [new_input(outdial, name=f"t{n}") for n in range(start, min(count, start + 100))]
        created += (await gql.data(CREATE_MANY, inputs=batch))["createOutdialtargets"]
    return created


def newest_first(targets: list[dict]) -> list[str]:
    ordered = sorted(targets, key=lambda t: (t["tmCreate"], t["id"]), reverse=True)
    return [t["id"] for t in ordered]
