"""The Python gql client against the real server over loopback, on both websocket protocols,
and the README's gql recipe run exactly as it is printed there."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from gql import Client, GraphQLRequest
from gql.client import AsyncClientSession
from gql.transport.exceptions import TransportError, TransportQueryError
from gql.transport.websockets import WebsocketsTransport

from tests.support import operations as ops
from tests.support.hardening import READ_TOKEN, WRITE_TOKEN, bearer
from tests.support.live_server import REPO_ROOT, LiveService, live_service

LEGACY, TRANSPORT = (
    WebsocketsTransport.APOLLO_SUBPROTOCOL,
    WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL,
)
SWITCH = "# subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],"


def sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    tokens = f"read:{sha256(READ_TOKEN)}:dashboard,write:{sha256(WRITE_TOKEN)}:dialer"
    env = {"DATA_DIR": str(tmp_path_factory.mktemp("data")), "AUTH_TOKENS": tokens}
    with live_service(env) as running:
        yield running


def create_targets(
    service: LiveService, outdial: str, count: int, token: str | None = WRITE_TOKEN
) -> None:
    inputs = [
        ops.new_input(outdial, destination0=ops.tel(f"+82110000{n:04d}")) for n in range(count)
    ]
    answer = httpx.post(
        f"{service.url}/graphql",
        json={"query": ops.CREATE_MANY, "variables": {"inputs": inputs}},
        headers=bearer(token) if token else {},
    )
    assert "errors" not in answer.json(), answer.text


def counts(service: LiveService, outdial: str, token: str | None = READ_TOKEN) -> dict[str, int]:
    answer = httpx.post(
        f"{service.url}/graphql",
        json={"query": ops.COUNTS, "variables": {"outdialId": outdial}},
        headers=bearer(token) if token else {},
    )
    result: dict[str, int] = answer.json()["data"]["outdialtargetCounts"]
    return result


def readme_recipe() -> str:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme[readme.index("### Python: gql") :]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None
    return match.group(1)


def run_readme_recipe(
    service: LiveService, tmp_path: Path, token: str | None, *, protocol: str = LEGACY
) -> str:
    """Runs the recipe as a script of its own on an outdial of three targets; its outdial."""
    recipe = readme_recipe()
    assert SWITCH in recipe
    if protocol == TRANSPORT:
        recipe = recipe.replace(SWITCH, SWITCH.removeprefix("# "))
    script = tmp_path / "worker.py"
    script.write_text(recipe)
    outdial = str(uuid.uuid4())
    create_targets(service, outdial, 3, token)
    env = {k: v for k, v in os.environ.items() if k != "OUTDIAL_TOKEN"}
    env |= {"OUTDIAL_ID": outdial, "OUTDIAL_WS_URL": service.ws_url}
    if token is not None:
        env["OUTDIAL_TOKEN"] = token
    run = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert sorted(lines[:3]) == [f"dialling +82110000{n:04d}" for n in range(3)]
    assert lines[3:] == ["counts {'idle': 0, 'progressing': 0, 'done': 3}"]
    return outdial


@pytest.mark.parametrize("protocol", [LEGACY, TRANSPORT])
def test_the_readme_recipe_works_as_printed(
    service: LiveService, protocol: str, tmp_path: Path
) -> None:
    outdial = run_readme_recipe(service, tmp_path, WRITE_TOKEN, protocol=protocol)
    assert counts(service, outdial) == {"idle": 0, "progressing": 0, "done": 3, "total": 3}


def test_the_readme_recipe_needs_no_token_where_the_service_has_none(tmp_path: Path) -> None:
    with live_service({"DATA_DIR": str(tmp_path / "data")}) as open_service:  # as `make run`
        outdial = run_readme_recipe(open_service, tmp_path, None)
        assert counts(open_service, outdial, None)["done"] == 3


@asynccontextmanager
async def session(
    service: LiveService, token: str, protocol: str
) -> AsyncIterator[AsyncClientSession]:
    subprotocols = None if protocol == LEGACY else [TRANSPORT]  # gql's default is the legacy one
    transport = WebsocketsTransport(
        url=service.ws_url,
        init_payload={"authorization": f"Bearer {token}"},
        subprotocols=subprotocols,
    )
    async with Client(transport=transport) as opened:
        assert transport.subprotocol == protocol
        yield opened


def request(document: str, **variables: Any) -> GraphQLRequest:
    return GraphQLRequest(document, variable_values=variables)


@pytest.mark.parametrize("protocol", [LEGACY, TRANSPORT])
async def test_a_read_token_queries_but_may_not_write(service: LiveService, protocol: str) -> None:
    outdial = str(uuid.uuid4())
    async with session(service, READ_TOKEN, protocol) as reader:
        answer = await reader.execute(request(ops.COUNTS, outdialId=outdial))
        assert answer["outdialtargetCounts"]["total"] == 0
        with pytest.raises(TransportQueryError) as refused:
            await reader.execute(request(ops.CREATE, input=ops.new_input(outdial)))
    assert refused.value.errors is not None
    assert [error["extensions"]["code"] for error in refused.value.errors] == ["FORBIDDEN"]
    assert counts(service, outdial)["total"] == 0


@pytest.mark.parametrize("protocol", [LEGACY, TRANSPORT])
async def test_bad_input_over_a_websocket_is_a_coded_error(
    service: LiveService, protocol: str
) -> None:
    async with session(service, WRITE_TOKEN, protocol) as writer:
        with pytest.raises(TransportQueryError) as refused:
            await writer.execute(request(ops.COUNTS, outdialId="not-a-uuid"))
        created = await writer.execute(request(ops.CREATE, input=ops.new_input(str(uuid.uuid4()))))
    assert refused.value.errors is not None
    assert refused.value.errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert created["createOutdialtarget"]["status"] == "IDLE"


@pytest.mark.parametrize("protocol", [LEGACY, TRANSPORT])
async def test_an_unknown_token_is_refused_at_connection(
    service: LiveService, protocol: str
) -> None:
    transport = WebsocketsTransport(
        url=service.ws_url,
        init_payload=bearer("wrong"),
        subprotocols=None if protocol == LEGACY else [TRANSPORT],
    )
    with pytest.raises(TransportError) as refused:
        async with Client(transport=transport) as opened:
            await opened.execute(request("{ __typename }"))
    if protocol == LEGACY:  # graphql-ws says why; graphql-transport-ws closes with 4403
        assert "UNAUTHENTICATED" in str(refused.value)
