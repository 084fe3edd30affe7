"""What the hub and the prepuller may ask of the Docker engine: pure data and checks, no I/O.

Whoever can call the Docker API without a filter is root on the host (a privileged
container, a bind of `/`, `exec` into anything). devlab's hub faces users and the
prepuller talks to registries, so each gets only the calls its code makes, with the
arguments devlab itself sends: labs carrying devlab's labels and hardening, NFS volumes
on the engine's loopback, images. Everything else is refused with the reason.

A request is judged in two steps. `Policy.lookups` names the containers and networks
whose labels the decision needs (the one a path names, the networks a container is
created on, the container a network connect names); the server inspects them on the
engine and `Policy.decide` judges the request with those facts. Objects are judged by
what the engine says they are (their real name and labels), never by the name the
client used, and an allowed request goes to the engine by the object's full id.

The engine decodes JSON bodies with Go's encoding/json, which matches field names
without regard to case ("privileged" sets Privileged, and the last of "User" and "user"
wins). Every object this module reads is therefore checked against the exact field
names the engine documents: any other spelling is refused, so what is judged here is
what the engine will read.
"""

from __future__ import annotations

import ipaddress
import json
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs, quote, unquote

from devlab.hub.labs import LABEL_STACK, LABEL_USER
from devlab.hub.networks import (
    COMPOSE_ONEOFF,
    COMPOSE_PROJECT,
    COMPOSE_SERVICE,
    LAB_NETWORK_INFIX,
    LAB_PEERS,
)
from devlab.storage.modes import EXPORTS, volume_name
from devlab.tutorials import volume as tutorials_volume

COMPOSE_PREFIX = "com.docker.compose."
# Older API versions take a host config at container start, after create was checked.
MIN_API_VERSION = (1, 24)

Kind = Literal["container", "network"]
Ref = tuple[Kind, str]

_VERSION_PREFIX = re.compile(r"^/v(\d+)\.(\d+)(?=/)")


@dataclass(frozen=True)
class Request:
    """One Docker API request: `path` without the `/v1.xx` prefix, percent-decoded."""

    method: str
    path: str
    query: Mapping[str, Sequence[str]] = field(default_factory=dict)
    body: Any = None  # the parsed JSON body; None when there is none

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None  # the engine reads the first


@dataclass(frozen=True)
class EngineObject:
    """A container or network as the engine describes it."""

    id: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)


Facts = Mapping[Ref, EngineObject | None]  # None: the engine has no such object


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    status: int = 200  # the answer instead of forwarding, when not allowed
    path: str | None = None  # where to forward (names resolved to ids), when allowed

    @property
    def message(self) -> str:
        if self.status == 403:
            return f"devlab docker-proxy refused: {self.reason}"
        return self.reason


def allow() -> Decision:
    return Decision(True, "allowed")


def refuse(reason: str) -> Decision:
    return Decision(False, reason, status=403)


def bad_request(reason: str) -> Decision:
    return Decision(False, reason, status=400)


# Reading a request --------------------------------------------------------------------------


def split_version(raw_path: str) -> tuple[str, str]:
    """(`/v1.41`, `/containers/x/json`) from a raw request path; the prefix may be empty."""
    match = _VERSION_PREFIX.match(raw_path)
    prefix = match.group(0) if match else ""
    return prefix, raw_path[len(prefix) :]


def version_problem(prefix: str) -> str | None:
    match = _VERSION_PREFIX.match(prefix + "/")
    if match and (int(match.group(1)), int(match.group(2))) < MIN_API_VERSION:
        return f"API version {prefix[2:]} is older than 1.24, the oldest this proxy serves"
    return None


def decode_path(raw_path: str) -> str | None:
    """The path the engine will route, or None when it could be read two ways.

    An encoded slash or dot, a dot segment or an empty segment could route differently
    in the engine than in this proxy's table: such paths are refused, not interpreted.
    """
    lowered = raw_path.lower()
    if "%2f" in lowered or "%2e" in lowered or "%5c" in lowered or "\\" in raw_path:
        return None
    path = unquote(raw_path)
    if not path.startswith("/") or any(s in ("", ".", "..") for s in path.split("/")[1:]):
        return None
    return path


def parse_query(raw_query: str) -> dict[str, list[str]] | None:
    """The query parameters, or None when the engine could read them otherwise (a `;`)."""
    if ";" in raw_query:
        return None
    return parse_qs(raw_query, keep_blank_values=True)


def parse_body(data: bytes) -> Any:
    """The JSON body, refusing any object that names a field twice (ValueError)."""
    if not data.strip():
        return None

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        if len(set(keys)) != len(keys):
            raise ValueError(f"a JSON object names a field twice: {keys}")
        return dict(pairs)

    return json.loads(data.decode("utf-8"), object_pairs_hook=unique)


# Field names as the engine documents them (API 1.41) --------------------------------------

_CONTAINER_CONFIG_FIELDS = frozenset(
    {
        "Hostname",
        "Domainname",
        "User",
        "AttachStdin",
        "AttachStdout",
        "AttachStderr",
        "ExposedPorts",
        "Tty",
        "OpenStdin",
        "StdinOnce",
        "Env",
        "Cmd",
        "Healthcheck",
        "ArgsEscaped",
        "Image",
        "Volumes",
        "WorkingDir",
        "Entrypoint",
        "NetworkDisabled",
        "MacAddress",
        "Labels",
        "StopSignal",
        "StopTimeout",
        "Shell",
        "HostConfig",
        "NetworkingConfig",
        "Runtime",  # docker-py sends it as null; the engine has no such container field
    }
)
# The host config fields a lab may use; the values of those that matter are checked.
# Anything else (Devices, PidMode, NetworkMode host, VolumesFrom, Sysctls, CgroupParent,
# Runtime, MaskedPaths, ...) is refused, whatever its value.
_HOST_CONFIG_FIELDS = frozenset(
    {
        "AutoRemove",
        "Binds",
        "CapAdd",
        "CapDrop",
        "CpuPeriod",
        "CpuQuota",
        "CpuShares",
        "Dns",
        "DnsOptions",
        "DnsSearch",
        "ExtraHosts",
        "GroupAdd",
        "Init",
        "Links",
        "Memory",
        "MemoryReservation",
        "MemorySwap",
        "Mounts",
        "NanoCpus",
        "NetworkMode",
        "PidsLimit",
        "PortBindings",
        "Privileged",
        "PublishAllPorts",
        "ReadonlyRootfs",
        "RestartPolicy",
        "SecurityOpt",
        "ShmSize",
        "Tmpfs",
    }
)
_MOUNT_FIELDS = frozenset(
    {"Type", "Source", "Target", "ReadOnly", "Consistency", "VolumeOptions", "TmpfsOptions"}
)
_VOLUME_OPTIONS_FIELDS = frozenset({"NoCopy", "Labels"})
_NETWORKING_CONFIG_FIELDS = frozenset({"EndpointsConfig"})
_ENDPOINT_FIELDS = frozenset({"IPAMConfig", "Links", "Aliases", "MacAddress", "DriverOpts"})
_VOLUME_CREATE_FIELDS = frozenset({"Name", "Driver", "DriverOpts", "Labels"})
_NETWORK_CREATE_FIELDS = frozenset(
    {"Name", "CheckDuplicate", "Driver", "Internal", "EnableIPv6", "IPAM", "Options", "Labels"}
)
_IPAM_FIELDS = frozenset({"Driver", "Config", "Options"})
_IPAM_POOL_FIELDS = frozenset({"Subnet", "IPRange", "Gateway", "AuxiliaryAddresses"})
_CONNECT_FIELDS = frozenset({"Container", "EndpointConfig"})
_DISCONNECT_FIELDS = frozenset({"Container", "Force"})


def _object(value: Any, fields: Iterable[str], where: str) -> tuple[dict[str, Any], str | None]:
    """`value` as an object with only `fields`: (the object, or {}, and the problem)."""
    if value is None:
        return {}, None
    if not isinstance(value, dict):
        return {}, f"{where} must be an object"
    unknown = sorted(set(value) - set(fields))
    if unknown:
        return value, f"{where}: field(s) {', '.join(unknown)} are not allowed here"
    return value, None


def _labels(body: Mapping[str, Any]) -> dict[str, str]:
    labels = body.get("Labels")
    return labels if isinstance(labels, dict) else {}


# Which objects are whose --------------------------------------------------------------------


def is_lab(policy: Policy, obj: EngineObject) -> bool:
    """A container the hub created for this stack: devlab's labels, and not Compose's."""
    return (
        obj.labels.get(LABEL_STACK) == policy.stack
        and bool(obj.labels.get(LABEL_USER))
        and COMPOSE_ONEOFF not in obj.labels
    )


def is_hub_or_proxy(policy: Policy, obj: EngineObject) -> bool:
    """The stack's own hub or proxy container, as Compose made it (see COMPOSE_ONEOFF)."""
    return (
        obj.labels.get(COMPOSE_PROJECT) == policy.stack
        and obj.labels.get(COMPOSE_SERVICE) in LAB_PEERS
        and obj.labels.get(COMPOSE_ONEOFF) == "False"
        and LABEL_USER not in obj.labels
    )


def is_lab_network(policy: Policy, obj: EngineObject) -> bool:
    return obj.name.startswith(policy.lab_network_prefix) and (
        obj.labels.get(LABEL_STACK) == policy.stack
    )


# The checks ---------------------------------------------------------------------------------

Check = Callable[["Policy", Request, Mapping[str, str], Facts], Decision]


def always(policy: Policy, request: Request, groups: Mapping[str, str], facts: Facts) -> Decision:
    return allow()


def _not_found(kind: Kind, ref: str) -> Decision:
    return Decision(False, f"No such {kind}: {ref}", status=404)


def _engine_true(value: str | None) -> bool:
    """The engine's reading of a boolean query parameter (anything but empty/0/no/false/none)."""
    return (value or "").strip().lower() not in ("", "0", "no", "false", "none")


def on_lab(policy: Policy, request: Request, groups: Mapping[str, str], facts: Facts) -> Decision:
    """Calls on one container (inspect, start, stop, archive...): only on the stack's labs.

    A name with no container answers 404 as the engine would: DockerSpawner inspects a
    lab by name before creating it.
    """
    ref = groups["container"]
    obj = facts.get(("container", ref))
    if obj is None:
        return _not_found("container", ref)
    if not is_lab(policy, obj):
        return refuse(
            f"{request.method} {request.path}: container {obj.name} is not a lab of stack "
            f"{policy.stack} (labs carry {LABEL_STACK}={policy.stack} and {LABEL_USER})"
        )
    if request.body is not None:
        return refuse(f"{request.method} {request.path} takes no JSON body")
    if request.method == "DELETE" and _engine_true(request.param("link")):
        return refuse("removing links is not allowed")
    return allow()


def pull(policy: Policy, request: Request, groups: Mapping[str, str], facts: Facts) -> Decision:
    """`POST /images/create` pulls with fromImage; with fromSrc it imports a tarball."""
    if request.param("fromSrc") is not None or not request.param("fromImage"):
        return refuse("only pulls (fromImage) are allowed on /images/create, not imports")
    if request.body is not None:
        return refuse("a pull takes no body")
    return allow()


def remove_image(
    policy: Policy, request: Request, groups: Mapping[str, str], facts: Facts
) -> Decision:
    if _engine_true(request.param("force")):
        return refuse("images are removed without force, so an image in use stays")
    return allow()


def volume_by_name(
    policy: Policy, request: Request, groups: Mapping[str, str], facts: Facts
) -> Decision:
    name = groups["volume"]
    if name not in policy.lab_volumes:
        return refuse(f"volume {name} is not a lab volume of stack {policy.stack}")
    return allow()


def create_volume(
    policy: Policy, request: Request, groups: Mapping[str, str], facts: Facts
) -> Decision:
    """Only storage mode nfs's volumes: the engine mounts the nfs service's port on its own
    loopback. A local volume with other options can bind any host path."""
    body, problem = _object(request.body, _VOLUME_CREATE_FIELDS, "volume create")
    if problem:
        return refuse(problem)
    name = str(body.get("Name") or "")
    if name not in policy.nfs_volumes:
        allowed = ", ".join(sorted(policy.nfs_volumes))
        return refuse(f"volume name {name!r} is not one of the stack's NFS volumes ({allowed})")
    if _labels(body).get(LABEL_STACK) != policy.stack:
        return refuse(f"volume {name} must carry label {LABEL_STACK}={policy.stack}")
    if (body.get("Driver") or "local") != "local":
        return refuse(f"volume {name}: only the local driver is allowed")
    opts = body.get("DriverOpts")
    if not isinstance(opts, dict) or set(opts) != {"type", "o", "device"}:
        return refuse(f"volume {name}: only NFS volumes (type, o, device) may be created")
    if opts["type"] not in ("nfs", "nfs4"):
        return refuse(f"volume {name}: type {opts['type']!r} is not nfs")
    options = [str(item).split("=", 1) for item in str(opts["o"]).split(",") if item]
    addresses = [kv[1] for kv in options if kv[0] == "addr" and len(kv) == 2]
    if addresses != ["127.0.0.1"]:
        return refuse(f"volume {name}: the NFS address must be 127.0.0.1 (the nfs service)")
    ports = [kv[1] for kv in options if kv[0] == "port" and len(kv) == 2]
    if policy.nfs_port is not None and ports != [str(policy.nfs_port)]:
        return refuse(f"volume {name}: the NFS port must be {policy.nfs_port}")
    if not str(opts["device"]).startswith(":/"):
        return refuse(f"volume {name}: device must be an export path (:/...)")
    return allow()


# Container create ---------------------------------------------------------------------------

_NO_NEW_PRIVILEGES = {"no-new-privileges", "no-new-privileges:true", "no-new-privileges=true"}
_BIND_OPTIONS = {"ro", "rw", "nocopy"}


def _create_networks(request: Request) -> list[str]:
    """Every network a create body names, however it is spelled (checked later)."""
    body = request.body if isinstance(request.body, dict) else {}
    host = body.get("HostConfig")
    names = []
    if isinstance(host, dict) and host.get("NetworkMode"):
        names.append(str(host["NetworkMode"]))
    networking = body.get("NetworkingConfig")
    endpoints = networking.get("EndpointsConfig") if isinstance(networking, dict) else None
    if isinstance(endpoints, dict):
        names += [str(n) for n in endpoints]
    return names


def create_lookups(request: Request) -> list[Ref]:
    return [("network", name) for name in _create_networks(request)]


def _user_problem(user: Any) -> str | None:
    """A numeric uid other than 0: a user name could be root in the image's passwd."""
    uid = str(user or "").split(":", 1)[0]
    if not uid:
        return "containers must run as a user (an empty User means root)"
    if not uid.isdigit():
        return f"User {user!r}: give a numeric uid (a name may be root in the image)"
    if int(uid) == 0:
        return f"User {user!r} is root"
    return None


def _source_problem(policy: Policy, source: str, read_only: bool, what: str) -> str | None:
    if source.startswith("/"):
        if posixpath.normpath(source) not in policy.allowed_binds:
            allowed = ", ".join(sorted(policy.allowed_binds)) or "none"
            return f"{what}: host path {source} is not allowed (allowed read-only: {allowed})"
        if not read_only:
            return f"{what}: host path {source} must be mounted read-only"
        return None
    if source == policy.tutorials_volume:
        return None if read_only else f"{what}: volume {source} must be mounted read-only"
    if source not in policy.lab_volumes:
        allowed = ", ".join(sorted(policy.lab_volumes))
        return f"{what}: volume {source!r} is not a lab volume ({allowed})"
    return None


def _binds_problem(policy: Policy, binds: Any) -> str | None:
    if binds is not None and not isinstance(binds, list):
        return "HostConfig.Binds must be a list"
    for bind in binds or ():
        parts = str(bind).split(":")
        if len(parts) not in (2, 3):
            return f"bind {bind!r}: expected SOURCE:TARGET[:OPTIONS]"
        options = set(parts[2].split(",")) if len(parts) == 3 else set()
        if not options <= _BIND_OPTIONS:
            return f"bind {bind!r}: only the options {', '.join(sorted(_BIND_OPTIONS))}"
        problem = _source_problem(policy, parts[0], "ro" in options, f"bind {bind!r}")
        if problem:
            return problem
    return None


def _mounts_problem(policy: Policy, mounts: Any) -> str | None:
    if mounts is not None and not isinstance(mounts, list):
        return "HostConfig.Mounts must be a list"
    for item in mounts or ():
        mount, problem = _object(item, _MOUNT_FIELDS, "mount")
        if problem:
            return problem
        kind = mount.get("Type")
        if kind == "tmpfs":
            continue
        if kind not in ("bind", "volume"):
            return f"mount type {kind!r} is not allowed (bind, volume, tmpfs)"
        _, problem = _object(mount.get("VolumeOptions"), _VOLUME_OPTIONS_FIELDS, "mount options")
        if problem:
            return problem
        source = str(mount.get("Source") or "")
        if kind == "volume" and not source:
            continue  # an anonymous volume: new, empty and the lab's own
        problem = _source_problem(policy, source, mount.get("ReadOnly") is True, "mount")
        if problem:
            return problem
    return None


def _host_config_problem(policy: Policy, value: Any) -> str | None:
    if value is None:
        return "container create needs a HostConfig (the lab's hardening)"
    host, problem = _object(value, _HOST_CONFIG_FIELDS, "HostConfig")
    if problem:
        return problem
    if host.get("Privileged"):
        return "privileged containers are not allowed"
    if host.get("CapAdd"):
        return f"capabilities cannot be added (CapAdd {host['CapAdd']})"
    if "ALL" not in {str(c).upper() for c in host.get("CapDrop") or ()}:
        return "labs must drop all capabilities (CapDrop must include ALL)"
    security = [str(s) for s in host.get("SecurityOpt") or ()]
    if not _NO_NEW_PRIVILEGES & set(security):
        return "labs must run with SecurityOpt no-new-privileges"
    extra = [s for s in security if s not in _NO_NEW_PRIVILEGES]
    if extra:
        return f"SecurityOpt {extra} is not allowed (only no-new-privileges)"
    if host.get("PortBindings") or host.get("PublishAllPorts"):
        return "labs publish no ports on the host"
    if host.get("Links"):
        return "links are not allowed"
    return _binds_problem(policy, host.get("Binds")) or _mounts_problem(policy, host.get("Mounts"))


def _networking_problem(value: Any) -> str | None:
    networking, problem = _object(value, _NETWORKING_CONFIG_FIELDS, "NetworkingConfig")
    endpoints = networking.get("EndpointsConfig") or {}
    if problem or not isinstance(endpoints, dict):
        return problem or "NetworkingConfig.EndpointsConfig must be an object"
    for name, endpoint in endpoints.items():
        _, problem = _object(endpoint, _ENDPOINT_FIELDS, f"endpoint {name}")
        if problem:
            return problem
    return None


def _network_problem(policy: Policy, name: str, user: str, facts: Facts) -> str | None:
    network = facts.get(("network", name))
    if network is None:
        return f"network {name!r} does not exist"
    if not is_lab_network(policy, network):
        return (
            f"network {network.name} is not a lab network of stack {policy.stack} "
            f"({policy.lab_network_prefix}* labelled {LABEL_STACK}={policy.stack}): labs "
            "share a network with the hub and the proxy only"
        )
    owner = network.labels.get(LABEL_USER)
    if owner is not None and owner != user:
        return f"network {network.name} belongs to {owner}, not {user}"
    return None


def create_container(
    policy: Policy, request: Request, groups: Mapping[str, str], facts: Facts
) -> Decision:
    """A lab as DevlabSpawner creates it: devlab's labels, a non-root uid, no capabilities,
    no privilege gain, no host namespaces, devices or ports, only the stack's volumes and
    networks and the allowed host paths read-only."""
    if not isinstance(request.body, dict):
        return refuse("container create needs a JSON body")
    body, problem = _object(request.body, _CONTAINER_CONFIG_FIELDS, "container create")
    if problem:
        return refuse(problem)
    labels = _labels(body)
    user = labels.get(LABEL_USER)
    smuggled = sorted(k for k in labels if k.startswith(COMPOSE_PREFIX))
    if labels.get(LABEL_STACK) != policy.stack:
        problem = f"containers must carry label {LABEL_STACK}={policy.stack}"
    elif not user:
        problem = f"containers must carry label {LABEL_USER}"
    elif smuggled:
        problem = f"Compose's labels are not for labs: {', '.join(smuggled)}"
    elif body.get("Runtime") is not None:
        problem = "Runtime is not allowed"
    problem = (
        problem
        or _user_problem(body.get("User"))
        or _host_config_problem(policy, body.get("HostConfig"))
        or _networking_problem(body.get("NetworkingConfig"))
    )
    networks = _create_networks(request)
    if problem is None and not networks:
        problem = "labs must name their network (the engine's default bridge is not for labs)"
    for name in networks:
        problem = problem or _network_problem(policy, name, str(user), facts)
    return refuse(problem) if problem else allow()


# Networks -----------------------------------------------------------------------------------

_NETWORK_OPTIONS = frozenset(
    {
        "com.docker.network.bridge.enable_icc",
        "com.docker.network.bridge.enable_ip_masquerade",
        "com.docker.network.driver.mtu",
    }
)


def _ipam_problem(policy: Policy, value: Any) -> str | None:
    """Addresses only from the configured lab network pool: a subnet chosen elsewhere
    could shadow a route of the host's."""
    ipam, problem = _object(value, _IPAM_FIELDS, "IPAM")
    if problem or (ipam.get("Driver") or "default") != "default" or ipam.get("Options"):
        return problem or "IPAM: only the default driver, with no options"
    configs = ipam.get("Config") or []
    if not isinstance(configs, list):
        return "IPAM.Config must be a list"
    for item in configs:
        config, problem = _object(item, _IPAM_POOL_FIELDS, "IPAM.Config")
        if problem or config.get("AuxiliaryAddresses"):
            return problem or "IPAM: no auxiliary addresses"
        try:
            subnet = ipaddress.ip_network(str(config.get("Subnet")))
            inner = [
                ipaddress.ip_network(str(config[key]))
                for key in ("IPRange", "Gateway")
                if config.get(key)
            ]
        except ValueError as exc:
            return f"IPAM: {exc}"
        pool = policy.lab_network_pool
        if pool is None or subnet.version != 4 or not subnet.subnet_of(pool):
            return f"IPAM: subnet {subnet} is not inside the lab network pool ({pool or 'none'})"
        if any(net.version != 4 or not net.subnet_of(subnet) for net in inner):
            return f"IPAM: IPRange and Gateway must lie inside {subnet}"
    return None


def create_network(
    policy: Policy, request: Request, groups: Mapping[str, str], facts: Facts
) -> Decision:
    """A lab's own bridge network, named and labelled for this stack."""
    body, problem = _object(request.body, _NETWORK_CREATE_FIELDS, "network create")
    if problem:
        return refuse(problem)
    name = str(body.get("Name") or "")
    if not name.startswith(policy.lab_network_prefix):
        return refuse(f"network name {name!r} must start with {policy.lab_network_prefix}")
    if _labels(body).get(LABEL_STACK) != policy.stack:
        return refuse(f"network {name} must carry label {LABEL_STACK}={policy.stack}")
    if (body.get("Driver") or "bridge") != "bridge":
        return refuse(f"network {name}: only the bridge driver is allowed")
    options = body.get("Options") or {}
    unknown = sorted(set(options) - _NETWORK_OPTIONS) if isinstance(options, dict) else ["?"]
    if unknown:
        return refuse(f"network {name}: options {unknown} are not allowed")
    problem = _ipam_problem(policy, body.get("IPAM"))
    return refuse(f"network {name}: {problem}") if problem else allow()


def remove_network(
    policy: Policy, request: Request, groups: Mapping[str, str], facts: Facts
) -> Decision:
    ref = groups["network"]
    network = facts.get(("network", ref))
    if network is None:
        return _not_found("network", ref)
    if not is_lab_network(policy, network):
        return refuse(f"network {network.name} is not a lab network of stack {policy.stack}")
    if request.body is not None and request.method == "DELETE":
        return refuse("a network removal takes no body")
    return allow()


def _body_container(request: Request) -> list[Ref]:
    body = request.body if isinstance(request.body, dict) else {}
    return [("container", str(body["Container"]))] if body.get("Container") else []


def connect(policy: Policy, request: Request, groups: Mapping[str, str], facts: Facts) -> Decision:
    """Join or leave a lab network: the stack's hub and proxy, or that network's lab."""
    fields = _CONNECT_FIELDS if request.path.endswith("/connect") else _DISCONNECT_FIELDS
    body, problem = _object(request.body, fields, "network (dis)connect")
    if problem:
        return refuse(problem)
    _, problem = _object(body.get("EndpointConfig"), _ENDPOINT_FIELDS, "EndpointConfig")
    if problem:
        return refuse(problem)
    verdict = remove_network(policy, request, groups, facts)
    if not verdict.allowed:
        return verdict
    network = facts[("network", groups["network"])]
    assert network is not None  # remove_network refused otherwise
    refs = _body_container(request)
    if not refs:
        return refuse("network connect/disconnect needs a Container")
    container = facts.get(refs[0])
    if container is None:
        return _not_found("container", refs[0][1])
    if is_hub_or_proxy(policy, container):
        return allow()
    if not is_lab(policy, container):
        return refuse(
            f"container {container.name} is neither a lab nor the hub or proxy of stack "
            f"{policy.stack}"
        )
    owner = network.labels.get(LABEL_USER)
    if owner is not None and owner != container.labels[LABEL_USER]:
        return refuse(f"network {network.name} belongs to {owner}, not to {container.name}")
    return allow()


# The policies -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One endpoint: a method, a path pattern (named groups `container` and `network` are
    looked up on the engine) and the check that judges it."""

    method: str
    pattern: str
    check: Check
    # Further objects to look up, from the request (e.g. the networks in a create body).
    more_lookups: Callable[[Request], list[Ref]] | None = None

    def match(self, request: Request) -> re.Match[str] | None:
        if request.method != self.method:
            return None
        return re.fullmatch(self.pattern, request.path)


_CONTAINER = r"(?P<container>[^/]+)"
_NETWORK = r"(?P<network>[^/]+)"
_IMAGE = r"(?P<image>.+)"

_PING = (
    Rule("GET", r"/_ping", always),
    Rule("HEAD", r"/_ping", always),
    Rule("GET", r"/version", always),  # docker-py's version="auto"
)

HUB_RULES: tuple[Rule, ...] = (
    *_PING,
    # The stack's hub and proxy containers, to join them to a lab's network.
    Rule("GET", r"/containers/json", always),
    # DockerSpawner: the image's command, and pulls of menu images not yet here.
    Rule("GET", rf"/images/{_IMAGE}/json", always),
    Rule("POST", r"/images/create", pull),
    # DockerSpawner and DevlabSpawner: the lab's life cycle and its /etc files.
    Rule("POST", r"/containers/create", create_container, create_lookups),
    Rule("GET", rf"/containers/{_CONTAINER}/json", on_lab),
    Rule("POST", rf"/containers/{_CONTAINER}/start", on_lab),
    Rule("POST", rf"/containers/{_CONTAINER}/stop", on_lab),
    Rule("POST", rf"/containers/{_CONTAINER}/kill", on_lab),
    Rule("POST", rf"/containers/{_CONTAINER}/wait", on_lab),
    Rule("DELETE", rf"/containers/{_CONTAINER}", on_lab),
    Rule("GET", rf"/containers/{_CONTAINER}/logs", on_lab),
    Rule("GET", rf"/containers/{_CONTAINER}/archive", on_lab),
    Rule("HEAD", rf"/containers/{_CONTAINER}/archive", on_lab),
    Rule("PUT", rf"/containers/{_CONTAINER}/archive", on_lab),
    # Storage mode nfs (devlab.storage.engine.ensure_nfs_volume).
    Rule("GET", r"/volumes/(?P<volume>[^/]+)", volume_by_name),
    Rule("POST", r"/volumes/create", create_volume),
    # One network per lab, joined by the lab, the hub and the proxy.
    Rule("GET", r"/networks", always),
    Rule("GET", r"/networks/(?P<name>[^/]+)", always),
    Rule("POST", r"/networks/create", create_network),
    Rule("DELETE", rf"/networks/{_NETWORK}", remove_network),
    Rule("POST", rf"/networks/{_NETWORK}/connect", connect, _body_container),
    Rule("POST", rf"/networks/{_NETWORK}/disconnect", connect, _body_container),
)

PREPULLER_RULES: tuple[Rule, ...] = (
    *_PING,
    Rule("GET", r"/images/json", always),
    Rule("GET", rf"/images/{_IMAGE}/json", always),
    Rule("POST", r"/images/create", pull),
    Rule("DELETE", rf"/images/{_IMAGE}", remove_image),
    Rule("GET", rf"/distribution/{_IMAGE}/json", always),
    # Which images running labs use, so that they are not removed.
    Rule("GET", r"/containers/json", always),
)

# Only these take a body that is not JSON (a tar archive), streamed to the engine.
STREAMED_BODY = re.compile(r"/containers/[^/]+/archive")


@dataclass(frozen=True)
class Policy:
    """A rule table for one client, bound to one stack."""

    name: str
    stack: str
    rules: tuple[Rule, ...]
    allowed_binds: frozenset[str] = frozenset()  # host paths labs may mount read-only
    nfs_port: int | None = None  # the port NFS volumes must use, when known
    lab_network_pool: ipaddress.IPv4Network | None = None  # lab networks' subnets

    @property
    def lab_network_prefix(self) -> str:
        return f"{self.stack}{LAB_NETWORK_INFIX}"

    @property
    def nfs_volumes(self) -> frozenset[str]:
        return frozenset(volume_name(self.stack, root, "nfs") for root in EXPORTS)

    @property
    def lab_volumes(self) -> frozenset[str]:
        """What labs mount: homes and project space, directly or over NFS."""
        direct = (volume_name(self.stack, root, "volume") for root in EXPORTS)
        return self.nfs_volumes | frozenset(direct)

    @property
    def tutorials_volume(self) -> str:
        """The hub's repository of devlab's own tutorials, which labs mount read-only."""
        return tutorials_volume(self.stack)

    def _rule(self, request: Request) -> tuple[Rule, re.Match[str]] | None:
        for rule in self.rules:
            match = rule.match(request)
            if match:
                return rule, match
        return None

    def lookups(self, request: Request) -> list[Ref]:
        """The containers and networks `decide` needs the engine's word on."""
        found = self._rule(request)
        if found is None:
            return []
        rule, match = found
        groups = match.groupdict()
        refs: list[Ref] = [("container", groups["container"])] if "container" in groups else []
        refs += [("network", groups["network"])] if "network" in groups else []
        return refs + (rule.more_lookups(request) if rule.more_lookups else [])

    def decide(self, request: Request, facts: Facts | None = None) -> Decision:
        found = self._rule(request)
        if found is None:
            return refuse(
                f"{request.method} {request.path} is not an API call the {self.name} makes"
            )
        repeated = sorted(k for k, v in request.query.items() if len(v) > 1)
        if repeated:
            return refuse(f"query parameter(s) {', '.join(repeated)} given more than once")
        rule, match = found
        verdict = rule.check(self, request, match.groupdict(), facts or {})
        if not verdict.allowed:
            return verdict
        return Decision(True, verdict.reason, path=_resolved(request.path, match, facts or {}))


def _resolved(path: str, match: re.Match[str], facts: Facts) -> str:
    """The path (percent-encoded again) with the object it names replaced by its id."""
    groups = match.groupdict()
    kind: Kind
    for kind in ("container", "network"):
        obj = facts.get((kind, groups[kind])) if kind in groups else None
        if obj is not None:
            path = path[: match.start(kind)] + obj.id + path[match.end(kind) :]
    return quote(path, safe="/:")


def hub_policy(
    stack: str,
    allowed_binds: Sequence[str] = (),
    nfs_port: int | None = None,
    lab_network_pool: str | None = None,
) -> Policy:
    binds = frozenset(posixpath.normpath(p) for p in allowed_binds)
    relative = sorted(p for p in binds if not p.startswith("/"))
    if relative:
        raise ValueError(f"allowed bind paths must be absolute: {', '.join(relative)}")
    pool = ipaddress.IPv4Network(lab_network_pool) if lab_network_pool else None
    return Policy("hub", stack, HUB_RULES, binds, nfs_port, pool)


def prepuller_policy(stack: str) -> Policy:
    return Policy("prepuller", stack, PREPULLER_RULES)
