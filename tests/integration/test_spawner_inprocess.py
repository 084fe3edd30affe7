"""DevlabSpawner in-process, as DockerSpawner tests itself: JupyterHub's MockHub, the real
spawner, the real engine, the lab image devlab builds.

No compose stack: the hub runs in this process (so a JupyterHub or DockerSpawner upgrade
that breaks the spawner fails here in seconds), configured by devlab's own wiring
(devlab.hub.wiring.configure) with only what a hub outside Compose needs changed: it
reaches labs on ports published on 127.0.0.1, it sees the storage at host folders, and
labs reach it on the engine's bridge address.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import re
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import docker
import pytest
import pytest_asyncio
from docker.errors import NotFound
from jupyterhub.tests.mocking import MockHub
from jupyterhub.tests.utils import add_user, api_request, public_url
from jupyterhub.utils import random_port, url_path_join
from tornado.httpclient import AsyncHTTPClient
from traitlets.config import Config

from devlab.config import load_config
from devlab.hub.labs import LABEL_STACK, LABEL_USER
from devlab.hub.spawner import DevlabSpawner
from devlab.hub.wiring import configure
from devlab.platform import DEFAULT_CONFIG, defaults
from devlab.stack import engine, lifecycle
from devlab.stack.images import LAB, image_tag
from devlab.stack.secrets import ensure_secrets
from devlab.stack.settings import resolve_settings
from devlab.tutorials import volume as tutorials_volume

pytestmark = pytest.mark.asyncio(loop_scope="module")

PROXY = "configurable-http-proxy"
GOLDEN = Path(__file__).parent / "golden" / "spawner_create_kwargs.json"
USERS = ("alice", "bob", "carol")
# A size other than the default for one of them, so the limits show it is the choice.
SIZES = {"alice": "small", "bob": "medium", "carol": ""}
PENDING_WITHIN = 300  # seconds a start or stop may stay pending; see _wait_not_pending


@pytest.fixture(autouse=True, scope="module")
def _fresh_servers() -> None:
    """No compose stack here (the conftest's fixture of this name brings one up)."""


class RecordingSpawner(DevlabSpawner):
    """DevlabSpawner that keeps what DockerSpawner passes to the engine's create_container.

    DockerSpawner.docker() is the one door of every engine call; the call still goes
    through, to the real engine.
    """

    created: ClassVar[dict[str, dict[str, Any]]] = {}

    def docker(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if method == "create_container":
            RecordingSpawner.created[self.user.name] = copy.deepcopy(kwargs)
        return super().docker(method, *args, **kwargs)


@dataclass
class InProcess:
    app: MockHub
    stack: str
    image: str
    client: docker.DockerClient
    homes: Path

    def container(self, user: str) -> dict[str, Any]:
        return self.client.api.inspect_container(f"{self.stack}-lab-{user}")

    def exec(self, user: str, *command: str) -> str:
        result = self.client.containers.get(f"{self.stack}-lab-{user}").exec_run(list(command))
        assert result.exit_code == 0, result.output
        return result.output.decode()


@pytest.fixture(scope="module")
def lab_image() -> str:
    """devlab's lab image for this checkout: the one a test stack built, or built now."""
    client = engine.connect()
    base = resolve_settings(env=dict(os.environ)).base_image
    tag = image_tag(LAB, base)
    if not engine.image_exists(client, tag):
        settings = resolve_settings(env={**os.environ, "DEVLAB_STACK": "devlab-spawner-build"})
        lifecycle.prepare(settings, load_config(settings.config_path, settings.profile))
        lifecycle.build_services(settings, ["lab"])
    return tag


def _bind_volume(client: docker.DockerClient, name: str, stack: str, path: Path) -> None:
    """A named volume that is a host folder: what the hub provisions, the lab mounts."""
    client.volumes.create(
        name,
        driver="local",
        driver_opts={"type": "none", "o": "bind", "device": str(path)},
        labels={LABEL_STACK: stack},
    )


def _engine_bridge_address(client: docker.DockerClient) -> str:
    """The host's address on the engine's default bridge: labs reach the hub there."""
    return client.api.inspect_network("bridge")["IPAM"]["Config"][0]["Gateway"]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hub(lab_image: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[InProcess]:
    root = tmp_path_factory.mktemp("spawner")
    # Not devlab.testing's devlab-pytest-<pid>- names: a run in another PID namespace
    # on the same engine takes those for a crashed run's and removes their labs.
    stack = f"devlab-inprocess-{uuid.uuid4().hex[:8]}"
    client = engine.connect()
    secrets = root / "secrets"
    ensure_secrets(secrets)
    storage = {name: root / name for name in ("homes", "project", "tutorials.git")}
    for path in storage.values():
        path.mkdir(mode=0o755)
        path.chmod(0o755)  # as the volumes' roots are: every user passes through
    hub_url = f"http://127.0.0.1:{random_port()}/"
    wired = Config()
    configure(
        wired,
        {
            "DEVLAB_STACK": stack,
            "DEVLAB_LAB_IMAGE": lab_image,
            "DEVLAB_STORAGE_MODE": "volume",
            "DEVLAB_NFS_PORT": str(defaults.NFS_PORT),  # unused: storage mode volume
            "DEVLAB_HUB_PUBLIC_URL": hub_url,
            # Unused: MockHub keeps its own authenticator, not the mock provider's.
            "DEVLAB_OAUTH_PUBLIC_URL": f"http://127.0.0.1:{defaults.OAUTH_PORT}",
            "DEVLAB_CILOGON_PUBLIC_URL": f"http://127.0.0.1:{defaults.CILOGON_PORT}",
            "DEVLAB_CONFIG_PATH": str(DEFAULT_CONFIG),
            "DEVLAB_SECRETS_PATH": str(secrets),
            "DEVLAB_HUB_DATA": str(root),
            "DEVLAB_TUTORIALS_PATH": str(storage["tutorials.git"]),
        },
    )
    _bind_volume(client, f"{stack}_homes", stack, storage["homes"])
    _bind_volume(client, f"{stack}_project", stack, storage["project"])
    _bind_volume(client, tutorials_volume(stack), stack, storage["tutorials.git"])

    config = Config()
    config.DevlabSpawner = wired.DevlabSpawner
    config.JupyterHub.spawner_class = RecordingSpawner
    config.JupyterHub.template_paths = wired.JupyterHub.template_paths
    config.JupyterHub.cookie_secret = wired.JupyterHub.cookie_secret
    # MockHub's default base URL (/@/space%20word/) comes back from the pure-Python proxy
    # with the @ escaped, which JupyterHub then takes for another path.
    config.JupyterHub.bind_url = hub_url
    config.CryptKeeper.keys = wired.CryptKeeper.keys
    # The dev extra's configurable-http-proxy (pure Python), from this environment.
    config.ConfigurableHTTPProxy.command = [str(Path(sys.executable).parent / PROXY)]
    # Its pid file goes with the rest of this hub's files, not into the working directory.
    config.ConfigurableHTTPProxy.pid_file = str(root / "proxy.pid")
    # The hub is on this host, not on the labs' networks: it reaches labs on ports
    # published on 127.0.0.1, and they reach it on the engine's bridge address.
    config.DevlabSpawner.use_internal_ip = False
    bridge = _engine_bridge_address(client)
    config.JupyterHub.hub_ip = bridge
    config.JupyterHub.hub_connect_ip = bridge
    config.DevlabSpawner.storage_roots = {
        "homes": str(storage["homes"]),
        "project": str(storage["project"]),
    }
    config.DevlabSpawner.catalog_state_path = str(root / "no-prepuller-state.json")
    app = MockHub.instance(config=config)
    await app.initialize([])
    await app.start()
    try:
        for user in USERS:
            add_user(app.db, app, name=user)
        yield InProcess(app, stack, lab_image, client, storage["homes"])
    finally:
        app.log.handlers = []
        MockHub.clear_instance()
        try:
            await app.stop()
        finally:
            engine.purge(client, stack)


async def _wait_not_pending(app: MockHub, user: str) -> dict[str, Any]:
    """The user's model once the server is neither starting nor stopping. JupyterHub ends
    a start itself after start_timeout plus http_timeout (120 s each in the packaged
    config), so a server still pending at PENDING_WITHIN is a failure, not a wait."""
    pending = None
    try:
        async with asyncio.timeout(PENDING_WITHIN):
            while True:
                model = (await api_request(app, "users", user)).json()
                server = model["servers"].get("")
                if not server or not server["pending"]:
                    return model
                pending = server["pending"]
                await asyncio.sleep(0.2)
    except TimeoutError:
        pytest.fail(f"{user}'s server still pending ({pending}) after {PENDING_WITHIN} s")


async def _start(app: MockHub, user: str, options: dict[str, str]) -> Any:
    r = await api_request(app, "users", user, "server", method="post", data=json.dumps(options))
    if r.status_code == 202:
        await _wait_not_pending(app, user)
    return r


async def _stop(app: MockHub, user: str) -> None:
    r = await api_request(app, "users", user, "server", method="delete")
    assert r.status_code in (202, 204), r.text
    await _wait_not_pending(app, user)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def running(hub: InProcess) -> AsyncIterator[InProcess]:
    """alice, bob and carol's labs, started side by side with their sizes."""
    RecordingSpawner.created.clear()
    answers = await asyncio.gather(
        *(_start(hub.app, u, {"size": SIZES[u]} if SIZES[u] else {}) for u in USERS)
    )
    for user, r in zip(USERS, answers, strict=True):
        assert r.status_code in (201, 202), f"{user}: {r.text}"
        model = (await api_request(hub.app, "users", user)).json()
        assert model["servers"][""]["ready"], f"{user}'s lab did not become ready: {model}"
    yield hub
    await asyncio.gather(*(_stop(hub.app, u) for u in USERS))


async def test_a_started_lab_serves_its_user_through_the_proxy(running: InProcess):
    user = running.app.users["alice"]
    token = user.new_api_token()
    url = url_path_join(public_url(running.app, user), "api/status")
    response = await AsyncHTTPClient().fetch(url, headers={"Authorization": f"token {token}"})
    assert "kernels" in response.body.decode()


async def test_identity_is_the_labs_user_groups_and_passwd(running: InProcess):
    alice = running.container("alice")
    assert alice["Config"]["User"] == "7000001:7000001"
    assert sorted(alice["HostConfig"]["GroupAdd"]) == ["8000001", "8000002"]
    assert running.exec("alice", "id") == (
        "uid=7000001(alice) gid=7000001(alice) "
        "groups=7000001(alice),8000001(devlab-devs),8000002(rubin-sci)\n"
    )
    carol = "uid=7000003(carol) gid=7000003(carol) groups=7000003(carol)\n"
    assert running.exec("carol", "id") == carol
    passwd = running.exec("bob", "getent", "passwd", "bob")
    assert passwd.startswith("bob:x:7000002:7000002:Bob Example:/home/bob:")
    assert running.exec("bob", "getent", "group", "rubin-sci") == "rubin-sci:x:8000002:bob\n"
    assert "alice" not in running.exec("bob", "cat", "/etc/passwd")


async def test_homes_and_projects_are_mounted_and_owned(running: InProcess):
    binds = running.container("bob")["HostConfig"]["Binds"]
    assert f"{running.stack}_homes:/home:rw" in binds
    assert f"{running.stack}_project:/project:rw" in binds
    assert f"{tutorials_volume(running.stack)}:/srv/devlab/tutorials.git:ro" in binds
    running.exec("bob", "sh", "-c", "echo hi > /home/bob/written-in-lab")
    written = running.homes / "bob" / "written-in-lab"
    assert (written.stat().st_uid, written.read_text()) == (7000002, "hi\n")
    assert running.exec("bob", "stat", "-c", "%U:%G %a", "/home/bob") == "bob:bob 700\n"


async def test_limits_are_the_chosen_size(running: InProcess):
    for user, cpus, memory in (("alice", 1, 2), ("bob", 2, 4), ("carol", 1, 2)):
        host = running.container(user)["HostConfig"]
        assert (host["NanoCpus"], host["Memory"]) == (cpus * 10**9, memory * 2**30), user
        assert host["CpuQuota"] == 0, "a CPU quota beside nano_cpus is refused by the engine"
    env = dict(e.split("=", 1) for e in running.container("bob")["Config"]["Env"])
    assert (env["DEVLAB_SIZE"], env["CPU_LIMIT"], env["MEM_LIMIT"]) == (
        "medium",
        "2.0",
        str(4 * 2**30),
    )


async def test_labs_are_labelled_with_their_stack_and_user(running: InProcess):
    for user in USERS:
        labels = running.container(user)["Config"]["Labels"]
        assert (labels[LABEL_STACK], labels[LABEL_USER]) == (running.stack, user)


async def test_labs_are_hardened(running: InProcess):
    host = running.container("carol")["HostConfig"]
    assert host["CapDrop"] == ["ALL"]
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert (host["PidsLimit"], host["Init"], host["ReadonlyRootfs"]) == (1024, True, True)
    assert host["Tmpfs"] == {"/tmp": "rw,nosuid,nodev,mode=1777"}
    assert host["AutoRemove"] is False  # poll() reads why a lab died before removing it
    assert host["PortBindings"] == {"8888/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}


def _normalized(kwargs: dict[str, Any], hub: InProcess) -> dict[str, Any]:
    """The create kwargs with what differs between runs named: the stack, the image,
    tokens and the hub's address and ports."""
    text = json.dumps(kwargs, sort_keys=True, default=str)
    text = text.replace(hub.stack, "<stack>").replace(hub.image, "<lab image>")
    text = text.replace(f"//{hub.app.hub_connect_ip}:", "//<hub>:")
    found = json.loads(text)
    found["environment"] = {
        key: "<token>" if "TOKEN" in key else re.sub(r":\d+/", ":<port>/", value)
        for key, value in found["environment"].items()
    }
    return found


async def test_create_kwargs_match_the_golden_file(running: InProcess):
    """Everything the spawner asks the engine for, for three identities at once.

    DEVLAB_UPDATE_GOLDEN=1 rewrites the file; review its diff like code.
    """
    found = {u: _normalized(RecordingSpawner.created[u], running) for u in USERS}
    if os.environ.get("DEVLAB_UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n")
    assert found == json.loads(GOLDEN.read_text())


@pytest.mark.parametrize(
    ("options", "refusal"),
    [
        ({"image": "example.org/not/offered:1"}, "is not offered here; choose one of: {image}"),
        ({"size": "huge"}, "size 'huge' is not offered; choose one of: small, medium, large"),
    ],
)
async def test_a_refused_choice_is_a_400_naming_the_choices_and_creates_nothing(
    hub: InProcess, options: dict[str, str], refusal: str
):
    user = "refused-" + uuid.uuid4().hex[:6]
    add_user(hub.app.db, hub.app, name=user)
    r = await _start(hub.app, user, options)
    assert r.status_code == 400
    assert refusal.format(image=hub.image) in r.json()["message"]
    with pytest.raises(NotFound):
        hub.client.api.inspect_container(f"{hub.stack}-lab-{user}")
    assert not (hub.homes / user).exists()


async def test_a_stop_removes_the_lab_and_a_new_start_makes_it_again(running: InProcess):
    name = f"{running.stack}-lab-carol"
    first = running.container("carol")["Id"]
    await _stop(running.app, "carol")
    with pytest.raises(NotFound):
        running.client.api.inspect_container(name)
    assert running.app.users["carol"].spawner.get_state() == {}
    r = await _start(running.app, "carol", {})
    assert r.status_code in (201, 202), r.text
    again = running.container("carol")
    assert again["State"]["Running"]
    assert again["Id"] != first
