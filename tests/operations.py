"""GraphQL documents the tests send, written once."""

from __future__ import annotations

from typing import Any

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
