"""DevlabSpawner: DockerSpawner that runs each lab as its user's Unix identity."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import tarfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

from docker.errors import APIError, NotFound
from docker.types import IPAMConfig, IPAMPool
from dockerspawner import DockerSpawner
from tornado import web
from traitlets import Any as AnyTrait
from traitlets import Callable as CallableTrait
from traitlets import Dict, Integer, Unicode, default

from devlab.catalog import (
    ChoiceError,
    Menu,
    build_menu,
    read_state,
    render_form,
    size_host_config,
    validate_choice,
)
from devlab.catalog.menu import Choice
from devlab.hub.certificates import LAB_CA_MODE, lab_ca_environment, lab_ca_path
from devlab.hub.labs import LABEL_IDENTITY_DIR, LABEL_STACK, LABEL_USER, READ_ONLY_ROOT
from devlab.hub.networks import (
    COMPOSE_SERVICE,
    LAB_PEERS,
    free_subnet,
    lab_network_name,
    service_filter,
)
from devlab.hub.stops import StopReason, why_stopped
from devlab.identity import Identity, IdentityError
from devlab.identity.github import identity_from_auth_state
from devlab.identity.passwd import group_for, passwd_for
from devlab.storage import OwnershipConflict, apply_plan, plan_for
from devlab.storage.engine import archive_text, ensure_nfs_volume
from devlab.storage.modes import EXPORTS, lab_volumes, volume_name
from devlab.tutorials import volume as tutorials_volume

# image id -> its own passwd and group; ids never change content.
_IMAGE_FILES: dict[str, dict[str, str]] = {}
TUTORIALS_SOURCE = "/srv/devlab/tutorials.git"  # where a local tutorials repo is mounted
# Seconds a lab network's removal waits for the engine to finish removing the lab.
NETWORK_REMOVAL_TIMEOUT = 30
# The hub's pages that show a lab's stop_reason (JupyterHub's own, extended).
SERVER_TEMPLATES = Path(__file__).parent / "templates" / "servers"
# Seconds between JupyterHub's checks that a running lab still runs (its default: 30):
# how long a dead lab may look alive. A check is one inspection of the lab through the
# docker-proxy, about 1.1 ms of the hub's CPU and 1.3 ms of the proxy's (measured): at
# 10 s, under 0.1 % of a core for 20 labs.
POLL_INTERVAL = 10


class DevlabSpawner(DockerSpawner):
    """Runs labs as uid = the user's id, with org groups, homes on shared storage and labels.

    Labels (not names) are how `devlab down` finds labs: a lab outlives the hub that
    spawned it, and its name is not a compose resource.
    """

    stack_name = Unicode(
        "devlab", config=True, help="Compose project name; every lab is labelled with it."
    )
    storage_mode = Unicode(
        "volume",
        config=True,
        help="nfs: labs mount /home and /project over NFS; volume: the volumes directly.",
    )
    nfs_address = Unicode(
        "127.0.0.1",
        config=True,
        help="Where the engine (not the hub) reaches the nfs service, for NFS-mode volumes.",
    )
    nfs_port = Integer(12049, config=True, help="The nfs service's published port.")
    storage_roots = Dict(
        {"homes": "/srv/devlab/homes", "project": "/srv/devlab/project"},
        config=True,
        help="Where the hub sees each storage volume, to provision before the first start.",
    )
    identity_lookup = CallableTrait(
        config=True,
        help="Called with a hub user name; returns that user's Identity, or None if unknown.",
    )
    docker_workers = Integer(
        8,
        config=True,
        help=(
            "Threads for Docker calls. DockerSpawner shares one thread among all users, so "
            "ten simultaneous stops take ten times one."
        ),
    )
    catalog = AnyTrait(
        config=True, help="devlab's CatalogConfig: the image menu's sources and the lab sizes."
    )
    catalog_state_path = Unicode(
        "/srv/devlab/catalog/state.json",
        config=True,
        help="The prepuller's state file; read at every form and start, so the menu is live.",
    )
    fallback_image = Unicode(
        config=True, help="The locally built lab image, offered when nothing else is pulled."
    )
    tutorials = AnyTrait(
        None,
        allow_none=True,
        config=True,
        help="devlab's TutorialsConfig: the notebooks the lab refreshes at start, or None.",
    )
    lab_host_config = Dict(
        config=True,
        help="Docker host config added to every lab (hardening, init), before identity.",
    )
    network_pool = Unicode(
        "10.213.0.0/16",
        config=True,
        help="IPv4 range each lab's own network takes a small subnet from.",
    )
    lab_ca_bundle = Unicode(
        "",
        config=True,
        help=(
            "PEM certificates every lab trusts for HTTPS (the system's plus DEVLAB_CA_BUNDLE, "
            "devlab.hub.certificates); empty: labs keep their image's own store."
        ),
    )

    @default("network_name")
    def _own_network(self) -> str:
        # One network per lab, shared only with the hub and the proxy (devlab.hub.networks).
        return lab_network_name(self.stack_name, self.escaped_name)

    @default("poll_interval")
    def _poll_often(self) -> int:
        # How soon a lab that died (OOM-killed, crashed) shows as stopped, with why.
        return POLL_INTERVAL

    @default("cpu_limit")
    def _no_cpu_quota(self) -> None:
        # A size's limits go in as nano_cpus and mem_limit. DockerSpawner's cpu_limit
        # defaults to 0.0, not None, which adds a CPU period the engine refuses beside
        # nano_cpus.
        return None

    _devlab_executor: ClassVar[ThreadPoolExecutor | None] = None
    # Subnets are chosen from the engine's list of networks: one choice at a time in this
    # hub (the Docker threads), or concurrent starts pick the same one and retry.
    _network_lock: ClassVar[threading.Lock] = threading.Lock()
    # Labs of this hub between container start and listening (see _wait_until_listening).
    _labs_waiting: ClassVar[int] = 0

    @property
    def executor(self) -> ThreadPoolExecutor:
        cls = DevlabSpawner
        if cls._devlab_executor is None:
            cls._devlab_executor = ThreadPoolExecutor(
                self.docker_workers, thread_name_prefix="devlab-docker"
            )
        return cls._devlab_executor

    async def identity(self) -> Identity:
        """The identity this user's lab runs as; refuses to invent one.

        The login's auth_state (GitHub user and orgs) comes first; users with none (created
        by an admin, or FirstUse users) go to `identity_lookup`.
        """
        try:
            identity = identity_from_auth_state(await self.user.get_auth_state())
            if identity is None and self.identity_lookup:
                identity = self.identity_lookup(self.user.name)
        except IdentityError as exc:
            raise web.HTTPError(403, f"{self.user.name} cannot run a lab: {exc}") from exc
        if identity is None:
            raise web.HTTPError(
                403,
                f"devlab has no identity (uid and groups) for user {self.user.name!r}: "
                "log in through the identity provider once, or add the user to "
                "mock_github.users in config/devlab.yaml",
            )
        return identity

    def menu(self) -> Menu:
        return build_menu(
            self.catalog, read_state(Path(self.catalog_state_path)), self.fallback_image or None
        )

    def choice(self) -> Choice:
        """The image and size of this start, from user_options; only what the menu offers."""
        try:
            return validate_choice(self.menu(), self.user_options)
        except ChoiceError as exc:
            self._forget_refused_options()
            raise web.HTTPError(400, f"Cannot start this lab: {exc}") from exc

    def _forget_refused_options(self) -> None:
        """JupyterHub keeps the last user_options as the next start's defaults, even when
        the start was refused; a refused choice must not be offered again by default."""
        if self.orm_spawner is not None and self.db is not None:
            self.orm_spawner.user_options = {}
            self.db.commit()

    async def check_allowed(self, image: str) -> str:
        # DockerSpawner's own allow-list is replaced by the live menu, which start()
        # has already checked (and set self.image from) before DockerSpawner asks.
        return self.image

    async def start(self) -> Any:
        choice = self.choice()  # first: a refused choice must not create or provision anything
        self.image = choice.image
        self._size = choice.size
        identity = await self.identity()
        removal = DevlabSpawner._network_removals.get(self.network_name)
        if removal is not None:  # the last stop's, still under way
            with contextlib.suppress(Exception):  # logged; the network is made again below
                await removal
        # Independent, and both on the spawn's critical path: side by side.
        await asyncio.gather(self._provision(identity), self._in_executor(self._ensure_lab_network))
        self._peers_joined = True
        self._configure_for(identity)
        self._lab_identity = identity
        self.stop_reason = None  # a new server: the last one's end is history
        address = await super().start()
        await self._wait_until_listening(address)
        return address

    # Lab networks being removed after a stop, by name: the next start of that lab awaits
    # it. Per class, since JupyterHub drops a Spawner once it has stopped.
    _network_removals: ClassVar[dict[str, asyncio.Future[None]]] = {}

    # True during stop(): a poll meanwhile sees the lab exit on request, not die.
    _stopping = False

    async def stop(self, now: bool = False) -> None:
        self._stopping = True
        try:
            await super().stop(now)
        finally:
            self._stopping = False
        self._remove_network_later()

    def _remove_network_later(self) -> None:
        # The stop is reported without waiting for the network (two disconnects and a
        # removal: about 0.3 s here); the next start of this lab waits for it instead.
        removal = asyncio.ensure_future(self._in_executor(self._remove_lab_network))
        removal.add_done_callback(self._network_removed)
        DevlabSpawner._network_removals[self.network_name] = removal

    def _network_removed(self, removal: asyncio.Future[None]) -> None:
        if DevlabSpawner._network_removals.get(self.network_name) is removal:
            del DevlabSpawner._network_removals[self.network_name]
        if not removal.cancelled() and removal.exception() is not None:
            self.log.error(
                "Removing %s failed: %s; `devlab down` removes it",
                self.network_name,
                removal.exception(),
            )

    # Whether this spawner has checked that the hub and the proxy are on its lab's network.
    _peers_joined = False

    # Why this user's last server stopped when nobody stopped it (devlab.hub.stops), or
    # None. Kept through JupyterHub's clear_state and saved in get_state: JupyterHub
    # drops a stopped server's Spawner, and the pages read the reason from a new one.
    stop_reason: StopReason | None = None

    async def poll(self) -> int | None:
        """None while the lab runs; else its exit code, once why it stopped is kept.

        JupyterHub never calls stop() for a lab that died (OOM-killed, crashed): it only
        polls. So the lab is kept by the engine after it exits (no auto_remove, see
        _configure_for) until this reads why, logs it, and removes it.
        """
        known = self.object_id
        container = await self.get_object()
        if container is not None and container["State"]["Running"]:
            if not self._peers_joined:
                # A hub that Compose recreated (a new container) is on no lab's network
                # yet, and JupyterHub checks each running lab over HTTP right after this
                # first poll at its start: join first, or running labs look dead.
                await self._in_executor(self._ensure_lab_network)
                self._peers_joined = True
            return None
        if self._stopping or (container is None and not known):
            return 0  # being stopped on request, or removed by an earlier poll or a stop
        reason = why_stopped(container)
        if reason is not None:
            self.stop_reason = reason
            self.log.warning("%s's lab stopped: %s", self.user.name, reason.message)
        if container is not None:
            await self.remove_object()
            self.object_id = ""
            self._remove_network_later()
        return reason.exit_code if reason and reason.exit_code is not None else 0

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.stop_reason = StopReason.from_state(state.get("stop_reason"))

    def get_state(self) -> dict[str, Any]:
        state = super().get_state()
        if self.stop_reason is not None:
            state["stop_reason"] = self.stop_reason.to_state()
        return state

    def _ensure_lab_network(self) -> None:
        """Make this lab's network, if missing, and join the hub and the proxy to it.

        The lab will be the only other member, so it reaches the hub's API and is
        reached by the proxy, and nothing else of the platform.
        """
        try:
            network = self.client.inspect_network(self.network_name)
        except NotFound:
            with DevlabSpawner._network_lock:
                network = self._create_lab_network()
        present = set(network.get("Containers") or {})
        # One listing of the stack's services for both peers: it is on every spawn's path.
        for peer in self.client.containers(filters={"label": service_filter(self.stack_name)}):
            aliases = LAB_PEERS.get(peer["Labels"].get(COMPOSE_SERVICE, ""))
            if aliases is not None and peer["Id"] not in present:
                self.client.connect_container_to_network(
                    peer["Id"], network["Id"], aliases=list(aliases)
                )

    def _create_lab_network(self) -> dict[str, Any]:
        """Create the network on a free subnet of the pool; other stacks may race for it."""
        used: list[str] = []
        for _ in range(8):
            used += [
                config.get("Subnet", "")
                for network in self.client.networks()
                for config in (network.get("IPAM") or {}).get("Config") or []
            ]
            subnet = free_subnet(self.network_pool, used)
            try:
                created = self.client.create_network(
                    self.network_name,
                    driver="bridge",
                    ipam=IPAMConfig(pool_configs=[IPAMPool(subnet=str(subnet))]),
                    labels={LABEL_STACK: self.stack_name, LABEL_USER: self.user.name},
                    check_duplicate=True,
                )
            except APIError as exc:
                if exc.status_code == 409:  # made meanwhile by another start of this user
                    return self.client.inspect_network(self.network_name)
                if "overlap" in str(exc).lower():  # taken meanwhile by another stack
                    used.append(str(subnet))
                    continue
                raise
            return self.client.inspect_network(created["Id"])
        raise web.HTTPError(503, "No network could be made for this lab: try again shortly")

    def _remove_lab_network(self) -> None:
        """Remove the lab's network once the lab is gone (the hub and proxy leave it).

        The lab is removed before this runs (DockerSpawner's stop, or poll for a lab that
        died); should the engine still hold the lab's endpoint, the network refuses removal
        ("has active endpoints"), so the removal is tried again.
        """
        deadline = time.monotonic() + NETWORK_REMOVAL_TIMEOUT
        while True:
            try:
                network = self.client.inspect_network(self.network_name)
            except NotFound:
                return
            for container in network.get("Containers") or {}:
                with contextlib.suppress(NotFound, APIError):  # the lab may be going already
                    self.client.disconnect_container_from_network(
                        container, network["Id"], force=True
                    )
            try:
                self.client.remove_network(network["Id"])
                return
            except NotFound:
                return
            except APIError as exc:
                if "active endpoints" not in str(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(0.1)

    async def _wait_until_listening(self, address: tuple[str, int]) -> None:
        """Return once the lab accepts connections.

        JupyterHub checks a new server at once and then backs off (0.2, 0.4 ... 5 s): a
        lab that is up just after the first check waits for the next one, 1.5 s at the
        median here. Jupyter Server binds its socket from its running event loop, so an
        accepted connection means JupyterHub's own HTTP check is answered at once. A
        bare connect is the cheapest probe (about 90 us of the hub's CPU when refused),
        and the hub makes about 50 of them a second in all: every 0.02 s for one lab
        starting, less often for each when many start at once and the CPU is what they
        wait for. A timeout leaves it to JupyterHub.
        """
        ip, port = address
        deadline = time.monotonic() + self.http_timeout
        DevlabSpawner._labs_waiting += 1
        try:
            while time.monotonic() < deadline:
                try:
                    _, writer = await asyncio.wait_for(asyncio.open_connection(ip, port), 2)
                except (OSError, TimeoutError):  # not listening yet
                    await asyncio.sleep(0.02 * DevlabSpawner._labs_waiting)
                    continue
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
                return
        finally:
            DevlabSpawner._labs_waiting -= 1

    async def create_object(self) -> dict[str, Any]:
        # After DockerSpawner's pull, before its create: the image decides the root's mode.
        image = await self._in_executor(self.client.inspect_image, self.image)
        labels = image["Config"].get("Labels") or {}
        identity_dir = labels.get(LABEL_IDENTITY_DIR)
        if identity_dir:
            self.extra_host_config = {**self.extra_host_config, **READ_ONLY_ROOT}
        # A volume of the lab's own (anonymous: removed with the lab) for passwd and group.
        self.mounts = (
            [{"type": "volume", "source": "", "target": identity_dir}] if identity_dir else []
        )
        if self.lab_ca_bundle:  # written by _install_lab_files, with the identity files
            self.environment = {
                **self.environment,
                **lab_ca_environment(lab_ca_path(identity_dir)),
            }
        obj = await super().create_object()
        await self._in_executor(
            self._install_lab_files, obj["Id"], self._lab_identity, image["Id"], labels
        )
        return obj

    def _install_lab_files(
        self, container_id: str, identity: Identity, image_id: str, labels: dict[str, str]
    ) -> None:
        """Write passwd, group and the image's description into the created lab.

        The container is created but not started: the lab never needs root or a writable
        /etc, and the files are in place, root-owned and read-only to the user, before
        its first process runs. They go to the image's identity directory (a volume, for
        a read-only root) when it names one, else into /etc. devlab-image.json tells code
        in the lab which image and size it runs, with the image's labels (its version,
        its source). The extra CA bundle, when there is one, rides in the same archive:
        no Docker call more on the spawn's path.
        """
        directory = labels.get(LABEL_IDENTITY_DIR)
        root = directory or "/etc"
        base = self._image_files(container_id, image_id, root)
        shown = {k: v for k, v in labels.items() if not k.startswith("com.docker.compose.")}
        image_info = {"image": self.image, "size": self._size.name, "labels": shown}
        files = [
            ("passwd", passwd_for(base["passwd"], identity), 0o644),
            ("group", group_for(base["group"], identity), 0o644),
            # /etc/devlab-image.json, or a link to it from the read-only root.
            (
                "image.json" if directory else "devlab-image.json",
                json.dumps(image_info, indent=1) + "\n",
                0o644,
            ),
        ]
        if self.lab_ca_bundle:
            name = str(PurePosixPath(lab_ca_path(directory)).relative_to(root))
            files.append((name, self.lab_ca_bundle, LAB_CA_MODE))
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as tar:
            for name, text, mode in files:
                data = text.encode()
                info = tarfile.TarInfo(name)  # uid and gid 0: root-owned in the lab
                info.size, info.mode, info.mtime = len(data), mode, int(time.time())
                tar.addfile(info, io.BytesIO(data))
        self.client.put_archive(container_id, root, archive.getvalue())

    def _image_files(self, container_id: str, image_id: str, directory: str) -> dict[str, str]:
        """The image's own passwd and group, read once per image id.

        Two Docker calls per spawn otherwise, queued behind everyone else's.
        """
        cached = _IMAGE_FILES.get(image_id)
        if cached is None:
            cached = _IMAGE_FILES[image_id] = {
                name: self._read_file(container_id, f"{directory}/{name}")
                for name in ("passwd", "group")
            }
        return cached

    def _read_file(self, container_id: str, path: str) -> str:
        stream, _ = self.client.get_archive(container_id, path)
        return archive_text(stream) or ""

    async def _provision(self, identity: Identity) -> None:
        roots = {name: Path(path) for name, path in self.storage_roots.items()}
        try:
            created = await self._in_executor(apply_plan, plan_for(identity), roots)
        except OwnershipConflict as exc:
            raise web.HTTPError(409, str(exc)) from exc
        for path in created:
            self.log.info("Provisioned %s for %s", path, identity.username)
        if self.storage_mode == "nfs":
            for root, export in EXPORTS.items():
                name = volume_name(self.stack_name, root, "nfs")
                await self._in_executor(
                    ensure_nfs_volume,
                    self.client,
                    name,
                    self.nfs_address,
                    self.nfs_port,
                    export,
                    {LABEL_STACK: self.stack_name},
                )

    async def _in_executor(self, func: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.wrap_future(self.executor.submit(func, *args))

    def _configure_for(self, identity: Identity) -> None:
        """Set this spawner's container settings from the identity (one spawner per server)."""
        self.volumes = lab_volumes(self.stack_name, self.storage_mode)
        tutorials_env = {}
        if self.tutorials is not None:
            repository = self.tutorials.repository
            if self.tutorials.is_local or self.tutorials.is_builtin:
                # A host path, or the volume the hub publishes devlab's own tutorials in:
                # mounted read-only; the lab clones from it.
                source = (
                    tutorials_volume(self.stack_name) if self.tutorials.is_builtin else repository
                )
                self.volumes[source] = {"bind": TUTORIALS_SOURCE, "mode": "ro"}
                repository = TUTORIALS_SOURCE
            tutorials_env = {
                "DEVLAB_TUTORIALS_REPO": repository,
                "DEVLAB_TUTORIALS_BRANCH": self.tutorials.branch,
                "DEVLAB_TUTORIALS_DIR": self.tutorials.directory,
            }
        self.notebook_dir = identity.home
        self.extra_create_kwargs = {
            "user": f"{identity.uid}:{identity.gid}",
            "working_dir": identity.home,
            "labels": {LABEL_USER: self.user.name, LABEL_STACK: self.stack_name},
        }
        self.extra_host_config = {
            **self.lab_host_config,
            # DockerSpawner's remove=True also has the engine remove a lab the moment it
            # exits, and why it exited (OOM, exit code) with it; poll() reads why first.
            "auto_remove": False,
            **size_host_config(self._size),
            "group_add": [str(gid) for gid in identity.supplementary_gids],
        }
        self.environment = {
            **self.environment,
            "DEVLAB_IMAGE": self.image,
            "DEVLAB_SIZE": self._size.name,
            # What JupyterHub tells labs about their resources (CPU_LIMIT, MEM_LIMIT ...).
            "CPU_LIMIT": str(self._size.cpu_limit),
            "CPU_GUARANTEE": str(self._size.cpu_guarantee),
            "MEM_LIMIT": str(self._size.mem_limit),
            "MEM_GUARANTEE": str(self._size.mem_guarantee),
            "HOME": identity.home,
            "USER": identity.username,
            "LOGNAME": identity.username,
            **tutorials_env,
        }


def menu_form(spawner: DevlabSpawner) -> str:
    """JupyterHub's options_form: rendered from the live menu at every visit."""
    return render_form(spawner.menu())
