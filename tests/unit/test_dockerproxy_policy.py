"""The Docker proxy's policies: what the hub and the prepuller may ask of the engine.

Create bodies are built by docker-py itself (its config builders do no I/O), the way
DockerSpawner builds them, so the allowed cases are exactly what devlab sends.
"""

from __future__ import annotations

import copy
from typing import Any

import docker
import pytest
from docker.types import IPAMConfig, IPAMPool

from devlab.dockerproxy.policy import (
    EngineObject,
    Request,
    decode_path,
    hub_policy,
    parse_body,
    parse_query,
    prepuller_policy,
    split_version,
    version_problem,
)
from devlab.storage.modes import nfs_volume_options

STACK = "s1"
TUTORIALS = "/srv/notebooks/tutorials.git"
HUB = hub_policy(STACK, [TUTORIALS], nfs_port=12049, lab_network_pool="10.213.0.0/16")
PREPULLER = prepuller_policy(STACK)
API = docker.APIClient(base_url="unix:///nonexistent", version="1.41")  # builds, never connects

COMPOSE = {"com.docker.compose.project": STACK, "com.docker.compose.oneoff": "False"}
LAB = EngineObject("a" * 64, "s1-lab-alice", {"devlab.stack": STACK, "devlab.user": "alice"})
BOB_LAB = EngineObject("b" * 64, "s1-lab-bob", {"devlab.stack": STACK, "devlab.user": "bob"})
HUB_CONTAINER = EngineObject("c" * 64, "s1-hub-1", {**COMPOSE, "com.docker.compose.service": "hub"})
PROXY_CONTAINER = EngineObject(
    "d" * 64, "s1-proxy-1", {**COMPOSE, "com.docker.compose.service": "proxy"}
)
NFS_CONTAINER = EngineObject("e" * 64, "s1-nfs-1", {**COMPOSE, "com.docker.compose.service": "nfs"})
# A container made from the hub image by someone other than Compose: it inherits the
# image's project and service labels, but not oneoff.
HUB_IMAGE_COPY = EngineObject(
    "f" * 64,
    "evil",
    {"com.docker.compose.project": STACK, "com.docker.compose.service": "hub"},
)
OTHER_STACK_LAB = EngineObject("9" * 64, "s2-lab-x", {"devlab.stack": "s2", "devlab.user": "x"})
LAB_NET = EngineObject("1" * 64, "s1_lab-alice", {"devlab.stack": STACK, "devlab.user": "alice"})
DEFAULT_NET = EngineObject(
    "2" * 64,
    "s1_default",
    {"com.docker.compose.project": STACK, "com.docker.compose.network": "default"},
)
HOST_NET = EngineObject("3" * 64, "host", {})
# Stack "s1_lab-x" has its default network named like one of s1's lab networks.
LOOKALIKE_NET = EngineObject(
    "4" * 64, "s1_lab-x_default", {"com.docker.compose.project": "s1_lab-x"}
)

FACTS: dict[Any, EngineObject | None] = {
    ("container", "s1-lab-alice"): LAB,
    ("container", "s1-lab-bob"): BOB_LAB,
    ("container", "s1-hub-1"): HUB_CONTAINER,
    ("container", "s1-proxy-1"): PROXY_CONTAINER,
    ("container", "s1-nfs-1"): NFS_CONTAINER,
    ("container", "evil"): HUB_IMAGE_COPY,
    ("container", "s2-lab-x"): OTHER_STACK_LAB,
    ("container", "missing"): None,
    ("network", "s1_lab-alice"): LAB_NET,
    ("network", "s1_default"): DEFAULT_NET,
    ("network", "host"): HOST_NET,
    ("network", "s1_lab-x_default"): LOOKALIKE_NET,
    ("network", "missing"): None,
    ("network", "default"): None,
    ("network", "container:x"): None,
}


def lab_body(**host: Any) -> dict[str, Any]:
    """A lab's create body, as DevlabSpawner + DockerSpawner send it; `host` overrides."""
    host_config = API.create_host_config(
        **{
            "auto_remove": True,
            "binds": {
                "s1_homes": {"bind": "/home", "mode": "rw"},
                "s1_project": {"bind": "/project", "mode": "rw"},
                TUTORIALS: {"bind": "/srv/devlab/tutorials.git", "mode": "ro"},
            },
            "links": None,
            "mounts": [],
            "mem_limit": "2G",
            "init": True,
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "pids_limit": 1024,
            "cpu_shares": 512,
            "nano_cpus": 1_000_000_000,
            "group_add": ["8000001"],
            "network_mode": "s1_lab-alice",
            **host,
        }
    )
    return API.create_container_config(
        "devlab/lab:1",
        None,
        volumes=["/home", "/project"],
        ports={"8888/tcp": None},
        environment={"JUPYTERHUB_API_TOKEN": "x"},
        user="7000001:7000001",
        working_dir="/home/alice",
        labels={"devlab.user": "alice", "devlab.stack": STACK},
        host_config=host_config,
    )


def with_changes(body: dict[str, Any], **changes: Any) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    for key, value in changes.items():
        target = changed
        *parents, last = key.split("__")
        for parent in parents:
            target = target[parent]
        target[last] = value
    return changed


def request(method: str, url_path: str, body: Any = None, **query: str) -> Request:
    return Request(method, url_path, {k: [v] for k, v in query.items()}, body)


def decide(policy, req: Request):
    facts = {ref: FACTS[ref] for ref in policy.lookups(req)}
    return policy.decide(req, facts)


# The hub ------------------------------------------------------------------------------------

HUB_ALLOWED = [
    ("ping", request("GET", "/_ping")),
    ("version, for docker-py's version=auto", request("GET", "/version")),
    ("inspect an image", request("GET", "/images/devlab/lab:1/json")),
    ("inspect an image by digest", request("GET", "/images/reg:5000/lab@sha256:ab/json")),
    ("pull", request("POST", "/images/create", fromImage="127.0.0.1:5000/lab", tag="w_2026_01")),
    ("create a lab as DevlabSpawner does", request("POST", "/containers/create", lab_body())),
    (
        "create a lab with a read-only root and a writable /tmp",
        request("POST", "/containers/create", lab_body(read_only=True, tmpfs={"/tmp": ""})),
    ),
    (
        "create a lab with an anonymous volume of its own (passwd and group)",
        request(
            "POST",
            "/containers/create",
            lab_body(mounts=[docker.types.Mount("/etc/devlab-identity", "", type="volume")]),
        ),
    ),
    (
        "create a lab with devlab's own tutorials (lab.tutorials: builtin)",
        request(
            "POST",
            "/containers/create",
            lab_body(
                binds={
                    "s1_homes": {"bind": "/home", "mode": "rw"},
                    "s1_project": {"bind": "/project", "mode": "rw"},
                    "s1_tutorials": {"bind": "/srv/devlab/tutorials.git", "mode": "ro"},
                }
            ),
        ),
    ),
    (
        "create an NFS-mode lab",
        request(
            "POST",
            "/containers/create",
            lab_body(
                binds={
                    "s1_homes_nfs": {"bind": "/home", "mode": "rw"},
                    "s1_project_nfs": {"bind": "/project", "mode": "rw"},
                }
            ),
        ),
    ),
    ("inspect a lab", request("GET", "/containers/s1-lab-alice/json")),
    ("start a lab", request("POST", "/containers/s1-lab-alice/start")),
    ("stop a lab", request("POST", "/containers/s1-lab-alice/stop", t="10")),
    ("kill a lab", request("POST", "/containers/s1-lab-alice/kill")),
    ("wait for a lab", request("POST", "/containers/s1-lab-alice/wait")),
    (
        "remove a lab as docker-py does",
        request("DELETE", "/containers/s1-lab-alice", v="True", link="False", force="False"),
    ),
    ("a lab's logs", request("GET", "/containers/s1-lab-alice/logs", stdout="1")),
    ("read a lab's /etc/passwd", request("GET", "/containers/s1-lab-alice/archive", path="/etc")),
    ("write a lab's /etc", request("PUT", "/containers/s1-lab-alice/archive", path="/etc")),
    ("inspect a lab volume", request("GET", "/volumes/s1_homes_nfs")),
    (
        "create an NFS volume as ensure_nfs_volume does",
        request(
            "POST",
            "/volumes/create",
            {
                "Name": "s1_homes_nfs",
                "Driver": "local",
                "DriverOpts": nfs_volume_options("127.0.0.1", 12049, "/homes"),
                "Labels": {"devlab.stack": STACK},
            },
        ),
    ),
    ("list networks", request("GET", "/networks")),
    ("inspect a network, even a missing one (404 from the engine)", request("GET", "/networks/x")),
    ("find the hub and proxy containers", request("GET", "/containers/json")),
    (
        "create a lab network as DevlabSpawner does",
        request(
            "POST",
            "/networks/create",
            {
                "Name": "s1_lab-alice",
                "Driver": "bridge",
                "Options": None,
                "IPAM": dict(IPAMConfig(pool_configs=[IPAMPool(subnet="10.213.0.8/29")])),
                "CheckDuplicate": True,
                "Labels": {"devlab.stack": STACK, "devlab.user": "alice"},
            },
        ),
    ),
    ("remove a lab network", request("DELETE", "/networks/s1_lab-alice")),
    (
        "join the hub to a lab network",
        request(
            "POST",
            "/networks/s1_lab-alice/connect",
            {
                "Container": "s1-hub-1",
                "EndpointConfig": API.create_endpoint_config(aliases=["hub"]),
            },
        ),
    ),
    (
        "join the proxy to a lab network",
        request("POST", "/networks/s1_lab-alice/connect", {"Container": "s1-proxy-1"}),
    ),
    (
        "join the lab to its own network",
        request("POST", "/networks/s1_lab-alice/connect", {"Container": "s1-lab-alice"}),
    ),
    (
        "take the hub off a lab network",
        request(
            "POST", "/networks/s1_lab-alice/disconnect", {"Container": "s1-hub-1", "Force": True}
        ),
    ),
]


@pytest.mark.parametrize(("why", "req"), HUB_ALLOWED, ids=[c[0] for c in HUB_ALLOWED])
def test_the_hub_may_make_the_calls_devlab_makes(why, req):
    decision = decide(HUB, req)
    assert decision.allowed, decision.reason


def create(**host: Any) -> Request:
    return request("POST", "/containers/create", lab_body(**host))


def create_with(**changes: Any) -> Request:
    return request("POST", "/containers/create", with_changes(lab_body(), **changes))


HUB_REFUSED = [
    ("a privileged container", create(privileged=True), "privileged"),
    ("added capabilities", create(cap_add=["SYS_ADMIN"]), "CapAdd"),
    ("capabilities kept", create(cap_drop=["NET_RAW"]), "CapDrop"),
    ("no no-new-privileges", create(security_opt=[]), "no-new-privileges"),
    (
        "seccomp unconfined",
        create(security_opt=["no-new-privileges", "seccomp=unconfined"]),
        "seccomp=unconfined",
    ),
    ("a bind of /", create(binds={"/": {"bind": "/host", "mode": "ro"}}), "host path /"),
    (
        "a bind of the Docker socket",
        create(binds={"/var/run/docker.sock": {"bind": "/d.sock", "mode": "rw"}}),
        "host path /var/run/docker.sock",
    ),
    (
        "the tutorials repository writable",
        create(binds={TUTORIALS: {"bind": "/t", "mode": "rw"}}),
        "read-only",
    ),
    (
        "a path inside the tutorials repository (its symlinks are not checked)",
        create(binds={TUTORIALS + "/hooks": {"bind": "/t", "mode": "ro"}}),
        "not allowed",
    ),
    (
        "the builtin tutorials volume writable",
        create(binds={"s1_tutorials": {"bind": "/t", "mode": "rw"}}),
        "read-only",
    ),
    (
        "the builtin tutorials volume as a writable mount",
        create(mounts=[docker.types.Mount("/t", "s1_tutorials", type="volume")]),
        "read-only",
    ),
    (
        "another stack's tutorials volume",
        create(binds={"s2_tutorials": {"bind": "/t", "mode": "ro"}}),
        "not a lab volume",
    ),
    (
        "another stack volume, the registry's storage",
        create(binds={"s1_registry-data": {"bind": "/r", "mode": "rw"}}),
        "not a lab volume",
    ),
    (
        "a mount of /",
        create(mounts=[docker.types.Mount("/host", "/", type="bind", read_only=True)]),
        "host path /",
    ),
    (
        "a mount that makes a bind volume on the fly",
        create(
            mounts=[
                docker.types.Mount(
                    "/x",
                    "s1_homes",
                    driver_config=docker.types.DriverConfig(
                        "local", {"type": "none", "o": "bind", "device": "/"}
                    ),
                )
            ]
        ),
        "DriverConfig",
    ),
    (
        "an anonymous volume made with driver options",
        create(
            mounts=[
                docker.types.Mount(
                    "/x",
                    "",
                    driver_config=docker.types.DriverConfig(
                        "local", {"type": "none", "o": "bind", "device": "/"}
                    ),
                )
            ]
        ),
        "DriverConfig",
    ),
    ("host pid namespace", create(pid_mode="host"), "PidMode"),
    ("host ipc namespace", create(ipc_mode="host"), "IpcMode"),
    ("host uts namespace", create(uts_mode="host"), "UTSMode"),
    ("host user namespace", create(userns_mode="host"), "UsernsMode"),
    ("host network", create(network_mode="host"), "host"),
    (
        "the stack's network, where its services are",
        create(network_mode="s1_default"),
        "s1_default is not a lab network",
    ),
    ("the engine's default bridge", create(network_mode="default"), "does not exist"),
    ("another container's network namespace", create(network_mode="container:x"), "does not exist"),
    ("a network of another stack", create(network_mode="s1_lab-x_default"), "s1_lab-x_default"),
    (
        "a second network: the stack's",
        create_with(NetworkingConfig={"EndpointsConfig": {"s1_default": {}}}),
        "s1_default is not a lab network",
    ),
    (
        "a device",
        create(devices=["/dev/sda:/dev/sda:rwm"]),
        "Devices",
    ),
    ("volumes from another container", create(volumes_from=["s1-hub-1"]), "VolumesFrom"),
    ("a published port", create(port_bindings={8888: ("0.0.0.0", 80)}), "ports"),
    ("sysctls", create(sysctls={"net.ipv4.ip_forward": "1"}), "Sysctls"),
    ("another cgroup parent", create(cgroup_parent="/"), "CgroupParent"),
    ("another runtime", create(runtime="runc-evil"), "Runtime"),
    ("root by uid", create_with(User="0:0"), "root"),
    ("root by name", create_with(User="root"), "numeric uid"),
    ("no user, which is root", create_with(User=None), "empty User"),
    ("a user name that may be root in the image", create_with(User="toor"), "numeric uid"),
    ("no stack label", create_with(Labels={"devlab.user": "alice"}), "devlab.stack=s1"),
    (
        "another stack's label",
        create_with(Labels={"devlab.stack": "s2", "devlab.user": "alice"}),
        "devlab.stack=s1",
    ),
    ("no user label", create_with(Labels={"devlab.stack": STACK}), "devlab.user"),
    (
        "Compose's labels smuggled in",
        create_with(
            Labels={
                "devlab.stack": STACK,
                "devlab.user": "alice",
                "com.docker.compose.service": "hub",
                "com.docker.compose.oneoff": "False",
            }
        ),
        "com.docker.compose.oneoff, com.docker.compose.service",
    ),
    (
        "a field name the engine reads regardless of case",
        create_with(HostConfig__privileged=True),
        "privileged",
    ),
    (
        "a second spelling of User that the engine would read last",
        create_with(user="0"),
        "user",
    ),
    (
        "joining a network of another user's lab",
        create_with(
            NetworkingConfig={"EndpointsConfig": {"s1_lab-alice": {}}},
            Labels={"devlab.stack": STACK, "devlab.user": "bob"},
        ),
        "belongs to alice",
    ),
]


@pytest.mark.parametrize(("why", "req", "reason"), HUB_REFUSED, ids=[c[0] for c in HUB_REFUSED])
def test_the_hub_cannot_create_a_container_that_escapes(why, req, reason):
    decision = decide(HUB, req)
    assert not decision.allowed
    assert decision.status == 403
    assert reason in decision.reason
    assert decision.message.startswith("devlab docker-proxy refused: ")


HUB_REFUSED_CALLS = [
    ("exec into the hub", request("POST", "/containers/s1-hub-1/exec", {"Cmd": ["sh"]})),
    ("exec into a lab", request("POST", "/containers/s1-lab-alice/exec", {"Cmd": ["sh"]})),
    ("attach to a lab", request("POST", "/containers/s1-lab-alice/attach")),
    ("archive into the hub", request("PUT", "/containers/s1-hub-1/archive", path="/")),
    ("archive out of the nfs server", request("GET", "/containers/s1-nfs-1/archive", path="/")),
    ("start a copy of the hub image", request("POST", "/containers/evil/start")),
    ("stop the hub", request("POST", "/containers/s1-hub-1/stop")),
    ("remove another stack's lab", request("DELETE", "/containers/s2-lab-x")),
    ("inspect the hub", request("GET", "/containers/s1-hub-1/json")),
    (
        "a host config at start (older APIs read it)",
        request("POST", "/containers/s1-lab-alice/start", {"Privileged": True}),
    ),
    ("remove a link", request("DELETE", "/containers/s1-lab-alice", link="1")),
    ("build", request("POST", "/build")),
    ("commit", request("POST", "/commit", container="s1-lab-alice")),
    ("import an image", request("POST", "/images/create", fromSrc="-")),
    ("push an image", request("POST", "/images/devlab/lab/push")),
    ("save images", request("GET", "/images/get")),
    ("load images", request("POST", "/images/load")),
    ("remove an image", request("DELETE", "/images/devlab/lab:1")),
    ("swarm init", request("POST", "/swarm/init", {})),
    ("plugins", request("POST", "/plugins/pull", remote="x")),
    ("secrets", request("GET", "/secrets")),
    ("configs", request("GET", "/configs")),
    ("system prune", request("POST", "/containers/prune")),
    ("events", request("GET", "/events")),
    ("engine info", request("GET", "/info")),
    ("log in to a registry", request("POST", "/auth", {})),
    (
        "a local volume binding a host path",
        request(
            "POST",
            "/volumes/create",
            {
                "Name": "s1_homes_nfs",
                "DriverOpts": {"type": "none", "o": "bind", "device": "/"},
                "Labels": {"devlab.stack": STACK},
            },
        ),
    ),
    (
        "an NFS volume mounting another host",
        request(
            "POST",
            "/volumes/create",
            {
                "Name": "s1_homes_nfs",
                "DriverOpts": {"type": "nfs", "o": "addr=10.0.0.1,port=12049", "device": ":/"},
                "Labels": {"devlab.stack": STACK},
            },
        ),
    ),
    ("inspect a volume of another stack", request("GET", "/volumes/s2_homes")),
    (
        "a network named for another stack",
        request("POST", "/networks/create", {"Name": "s2_lab-x", "Labels": {"devlab.stack": "s2"}}),
    ),
    (
        "a lab network outside the pool",
        request(
            "POST",
            "/networks/create",
            {
                "Name": "s1_lab-alice",
                "Labels": {"devlab.stack": STACK},
                "IPAM": {"Driver": "default", "Config": [{"Subnet": "192.168.1.0/24"}]},
            },
        ),
    ),
    (
        "a macvlan lab network",
        request(
            "POST",
            "/networks/create",
            {"Name": "s1_lab-a", "Driver": "macvlan", "Labels": {"devlab.stack": STACK}},
        ),
    ),
    ("remove the stack's default network", request("DELETE", "/networks/s1_default")),
    (
        "join the nfs server to a lab network",
        request("POST", "/networks/s1_lab-alice/connect", {"Container": "s1-nfs-1"}),
    ),
    (
        "join a copy of the hub image to a lab network",
        request("POST", "/networks/s1_lab-alice/connect", {"Container": "evil"}),
    ),
    (
        "join bob's lab to alice's network",
        request("POST", "/networks/s1_lab-alice/connect", {"Container": "s1-lab-bob"}),
    ),
    (
        "join the hub to the host network",
        request("POST", "/networks/host/connect", {"Container": "s1-hub-1"}),
    ),
    (
        "a query parameter given twice",
        Request("POST", "/images/create", {"fromImage": ["a", "b"]}),
    ),
]


@pytest.mark.parametrize(("why", "req"), HUB_REFUSED_CALLS, ids=[c[0] for c in HUB_REFUSED_CALLS])
def test_the_hub_cannot_make_other_calls(why, req):
    decision = decide(HUB, req)
    assert not decision.allowed
    assert decision.status == 403, decision


def test_a_missing_container_answers_404_as_the_engine_would():
    # DockerSpawner inspects a lab by name before creating it and treats 404 as "none".
    decision = decide(HUB, request("GET", "/containers/missing/json"))
    assert (decision.allowed, decision.status) == (False, 404)
    assert decision.message == "No such container: missing"


def test_allowed_calls_go_to_the_engine_by_id():
    decision = decide(HUB, request("POST", "/containers/s1-lab-alice/start"))
    assert decision.path == f"/containers/{LAB.id}/start"
    decision = decide(HUB, request("GET", "/images/reg:5000/lab@sha256:ab/json"))
    assert decision.path == "/images/reg:5000/lab%40sha256:ab/json"


def test_create_looks_up_every_network_it_names():
    body = with_changes(lab_body(), NetworkingConfig={"EndpointsConfig": {"s1_default": {}}})
    refs = HUB.lookups(request("POST", "/containers/create", body))
    assert refs == [("network", "s1_lab-alice"), ("network", "s1_default")]


def test_nfs_volumes_must_use_the_stacks_nfs_port():
    body = {
        "Name": "s1_project_nfs",
        "DriverOpts": {"type": "nfs", "o": "addr=127.0.0.1,port=22", "device": ":/project"},
        "Labels": {"devlab.stack": STACK},
    }
    decision = decide(HUB, request("POST", "/volumes/create", body))
    assert "port must be 12049" in decision.reason


def test_bind_paths_must_be_absolute():
    with pytest.raises(ValueError, match="absolute"):
        hub_policy(STACK, ["relative/path"])


# The prepuller ------------------------------------------------------------------------------

PREPULLER_ALLOWED = [
    request("GET", "/_ping"),
    request("GET", "/version"),
    request("GET", "/images/json"),
    request("GET", "/images/127.0.0.1:5000/devlab/lab:recommended/json"),
    request("POST", "/images/create", fromImage="127.0.0.1:5000/devlab/lab", tag="w_2026_01"),
    request("DELETE", "/images/127.0.0.1:5000/devlab/lab:d_2026_01_01"),
    request("GET", "/distribution/127.0.0.1:5000/devlab/lab:recommended/json"),
    request("GET", "/containers/json"),
]


@pytest.mark.parametrize("req", PREPULLER_ALLOWED, ids=lambda r: f"{r.method} {r.path}")
def test_the_prepuller_may_list_pull_inspect_and_remove_images(req):
    assert decide(PREPULLER, req).allowed


PREPULLER_REFUSED = [
    request("POST", "/containers/create", lab_body()),
    request("POST", "/containers/s1-lab-alice/start"),
    request("POST", "/containers/s1-hub-1/exec", {"Cmd": ["sh"]}),
    request("GET", "/containers/s1-lab-alice/archive", path="/"),
    request("DELETE", "/images/devlab/lab:1", force="1"),
    request("DELETE", "/images/devlab/lab:1", force="yes"),
    request("POST", "/images/create", fromSrc="-", repo="devlab/lab"),
    request("POST", "/images/devlab/lab/tag", repo="devlab/lab", tag="recommended"),
    request("POST", "/images/devlab/lab/push"),
    request("POST", "/volumes/create", {"Name": "s1_x"}),
    request("POST", "/networks/create", {"Name": "s1_lab-x"}),
    request("POST", "/build"),
    request("POST", "/swarm/init", {}),
]


@pytest.mark.parametrize("req", PREPULLER_REFUSED, ids=lambda r: f"{r.method} {r.path}")
def test_the_prepuller_cannot_touch_containers_volumes_or_networks(req):
    decision = decide(PREPULLER, req)
    assert (decision.allowed, decision.status) == (False, 403)


# Reading requests as the engine would --------------------------------------------------------


def test_the_version_prefix_is_split_off_and_old_versions_refused():
    assert split_version("/v1.41/containers/x/json") == ("/v1.41", "/containers/x/json")
    assert split_version("/_ping") == ("", "/_ping")
    assert version_problem("/v1.41") is None
    assert version_problem("") is None
    assert "1.23" in (version_problem("/v1.23") or "")


@pytest.mark.parametrize(
    "raw",
    ["/containers/x%2Fexec/json", "/containers/../exec", "/containers//json", "/a/%2e%2e/b", "x"],
)
def test_paths_the_engine_could_route_differently_are_refused(raw):
    assert decode_path(raw) is None


def test_paths_are_decoded_once():
    assert decode_path("/images/lab%40sha256:ab/json") == "/images/lab@sha256:ab/json"


def test_queries_with_semicolons_are_refused():
    assert parse_query("fromImage=a;fromSrc=-") is None
    assert parse_query("fromImage=a&tag=") == {"fromImage": ["a"], "tag": [""]}


def test_a_json_body_naming_a_field_twice_is_refused():
    with pytest.raises(ValueError, match="twice"):
        parse_body(b'{"User": "1000", "User": "0"}')
    assert parse_body(b"") is None
    assert parse_body(b'{"a": 1}') == {"a": 1}
