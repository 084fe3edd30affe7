"""DevlabSpawner: DockerSpawner that runs each lab as its user's Unix identity."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import tarfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

from docker.errors import APIError, NotFound
from docker.types import IPAMConfig, IPAMPool, Mount
from dockerspawner import DockerSpawner
from tornado import web
from traitlets import Any as AnyTrait
from traitlets import Callable as CallableTrait
from traitlets import Dict, Instance, Integer, Unicode, default

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
from devlab.platform import defaults
from devlab.polling import poll_until
from devlab.storage import OwnershipConflict, apply_plan, plan_for
from devlab.storage.engine import archive_text, ensure_nfs_volume
from devlab.storage.modes import EXPORTS, lab_volumes, volume_name
from devlab.tutorials import volume as tutorials_volume

# Image ids whose own passwd and group are kept (ids never change content): the menu's
# images and a few it offered before.
IMAGE_FILES_KEPT = 16
FILES = ("passwd", "group")
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
        defaults.STACK, config=True, help="Compose project name; every lab is labelled with it."
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
            "simultaneous stops queue behind each other: ten at once took 6.4 s on one "
            "thread, 4.1 s on eight (devlab bench --users 10, through the docker-proxy)."
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
    user_environment = CallableTrait(
        None,
        allow_none=True,
        config=True,
        help=(
            "Called with the hub user name at each start; returns variables added to the "
            "lab's environment (the GitHub link's git settings, devlab.github_link)."
        ),
    )
    lab_ca_bundle = Unicode(
        "",
        config=True,
        help=(
            "PEM certificates every lab trusts for HTTPS (the system's plus DEVLAB_CA_BUNDLE, "
            "devlab.hub.certificates); empty: labs keep their image's own store."
        ),
    )

    # What one start is made of, declared: set before DockerSpawner's create, which reads
    # them through the extension points below (extra_create_kwargs, extra_host_config,
    # get_env). A Spawner serves one server, and each start sets all three again.
    chosen = Instance(
        Choice,
        allow_none=True,
        help="This start's image and size from the live menu (set by apply_user_options).",
    )
    lab_identity = Instance(
        Identity, allow_none=True, help="The Unix identity this start runs as (set by start)."
    )
    lab_image = Dict(
        help="The engine's inspection of the chosen image (its id and labels), read after "
        "DockerSpawner's pull: the labels decide a read-only root and where passwd goes."
    )

    @default("apply_user_options")
    def _choose_from_menu(self) -> Callable[[DevlabSpawner, Mapping[str, Any]], None]:
        # JupyterHub's hook for user_options: it runs before start(), so a refused choice
        # creates and provisions nothing, and its HTTPError is the answer to the request.
        return DevlabSpawner.apply_choice

    @default("allowed_images")
    def _menu_images(self) -> Callable[[DevlabSpawner], dict[str, str]]:
        # DockerSpawner's own check_allowed, against the live menu.
        return DevlabSpawner.offered_images

    @default("extra_create_kwargs")
    def _identity_create_kwargs(self) -> Callable[[DevlabSpawner], dict[str, Any]]:
        return DevlabSpawner.lab_create_kwargs

    @default("extra_host_config")
    def _lab_host_config(self) -> Callable[[DevlabSpawner], dict[str, Any]]:
        return DevlabSpawner.lab_host_config_for

    @default("volumes")
    def _storage_volumes(self) -> dict[str, Any]:
        volumes: dict[str, Any] = dict(lab_volumes(self.stack_name, self.storage_mode))
        tutorials = self.tutorials
        if tutorials is not None and (tutorials.is_local or tutorials.is_builtin):
            # A host path, or the volume the hub publishes devlab's own tutorials in:
            # mounted read-only; the lab clones from it.
            source = (
                tutorials_volume(self.stack_name) if tutorials.is_builtin else tutorials.repository
            )
            volumes[source] = {"bind": TUTORIALS_SOURCE, "mode": "ro"}
        return volumes

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

    # One pool for all users instead of DockerSpawner's one thread (see docker_workers),
    # kept because the bench shows the single thread is the bottleneck for stops. `devlab
    # bench --users 10` through the docker-proxy (the hub's only way to the engine), 2
    # cores, lab.docker_workers 1 then 8: ten stops at once 6.4 s and 4.1 s; ten starts
    # at once 13.4 s and 12.6 s, 2.05x and 1.94x the raw-Docker floor of the same run.
    # (With the engine's socket itself, as the in-process tests run, the pool gained
    # nothing: the docker-proxy's per-request cost is what a second thread overlaps.)
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

    def apply_choice(self, user_options: Mapping[str, Any]) -> None:
        """This start's image and size, from user_options; only what the menu offers."""
        try:
            self.chosen = validate_choice(self.menu(), user_options)
        except ChoiceError as exc:
            raise web.HTTPError(400, f"Cannot start this lab: {exc}") from exc
        self.image = self.chosen.image

    def offered_images(self) -> dict[str, str]:
        """DockerSpawner's allowed_images: every image the menu offers, by its reference."""
        menu = self.menu()
        return {image.ref: image.ref for image in (*menu.pulled, *menu.others)}

    async def start(self) -> Any:
        identity = self.lab_identity = await self.identity()
        removal = DevlabSpawner._network_removals.get(self.network_name)
        if removal is not None:  # the last stop's, still under way
            with contextlib.suppress(Exception):  # logged; the network is made again below
                await removal
        # Independent, and both on the spawn's critical path: side by side.
        await asyncio.gather(self._provision(identity), self._in_executor(self._ensure_lab_network))
        self._peers_joined = True
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
        poll_until(
            self._try_remove_lab_network,
            f"the engine to release network {self.network_name}",
            timeout=NETWORK_REMOVAL_TIMEOUT,
            interval=0.1,
        )

    def _try_remove_lab_network(self) -> bool:
        """Whether the lab's network is gone; False while the engine holds an endpoint."""
        try:
            network = self.client.inspect_network(self.network_name)
        except NotFound:
            return True
        for container in network.get("Containers") or {}:
            with contextlib.suppress(NotFound, APIError):  # the lab may be going already
                self.client.disconnect_container_from_network(container, network["Id"], force=True)
        try:
            self.client.remove_network(network["Id"])
        except NotFound:
            pass
        except APIError as exc:
            if "active endpoints" not in str(exc):
                raise
            return False
        return True

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
        # After DockerSpawner's pull, before its create: the image decides the root's mode
        # and where the identity files go (lab_host_config_for, get_env).
        self.lab_image = await self._in_executor(self.client.inspect_image, self.image)
        obj = await super().create_object()
        await self._in_executor(self._install_lab_files, obj["Id"])
        return obj

    def _this_start(self) -> tuple[Identity, Choice]:
        """The identity and choice of the start under way, which the create reads."""
        if self.lab_identity is None or self.chosen is None:
            raise RuntimeError("DevlabSpawner creates a lab only within start()")
        return self.lab_identity, self.chosen

    @property
    def identity_dir(self) -> str | None:
        """The chosen image's directory for passwd and group (a read-only root), or None."""
        return (self.lab_image.get("Config", {}).get("Labels") or {}).get(LABEL_IDENTITY_DIR)

    def lab_create_kwargs(self) -> dict[str, Any]:
        """DockerSpawner's extra_create_kwargs: who the lab runs as, and its labels."""
        identity, _ = self._this_start()
        return {
            "user": f"{identity.uid}:{identity.gid}",
            "working_dir": identity.home,
            "labels": {LABEL_USER: self.user.name, LABEL_STACK: self.stack_name},
        }

    def lab_host_config_for(self) -> dict[str, Any]:
        """DockerSpawner's extra_host_config: hardening, the size's limits, the org groups."""
        identity, choice = self._this_start()
        host_config = {
            **self.lab_host_config,
            # DockerSpawner's remove=True also has the engine remove a lab the moment it
            # exits, and why it exited (OOM, exit code) with it; poll() reads why first.
            "auto_remove": False,
            **size_host_config(choice.size),
            "group_add": [str(gid) for gid in identity.supplementary_gids],
        }
        if self.identity_dir:
            host_config.update(READ_ONLY_ROOT)
            # A volume of the lab's own (anonymous: removed with the lab) for passwd and
            # group, beside any configured mounts.
            host_config["mounts"] = [
                *self.mount_binds,
                Mount(target=self.identity_dir, source="", type="volume"),
            ]
        return host_config

    def get_env(self) -> dict[str, str]:
        """JupyterHub's and DockerSpawner's environment, plus the lab's identity and size."""
        identity, choice = self._this_start()
        env = super().get_env()
        size = choice.size
        env.update(
            {
                "DEVLAB_IMAGE": self.image,
                "DEVLAB_SIZE": size.name,
                # What JupyterHub tells labs about their resources (CPU_LIMIT, MEM_LIMIT ...).
                "CPU_LIMIT": str(size.cpu_limit),
                "CPU_GUARANTEE": str(size.cpu_guarantee),
                "MEM_LIMIT": str(size.mem_limit),
                "MEM_GUARANTEE": str(size.mem_guarantee),
                "HOME": identity.home,
                "USER": identity.username,
                "LOGNAME": identity.username,
                # notebook_dir, which is the identity's home, not a template of the name.
                "JUPYTERHUB_ROOT_DIR": identity.home,
                **self._tutorials_environment(),
            }
        )
        if self.lab_ca_bundle:  # written by _install_lab_files, with the identity files
            env.update(lab_ca_environment(lab_ca_path(self.identity_dir)))
        if self.user_environment is not None:
            env.update(self.user_environment(self.user.name))
        return env

    def _tutorials_environment(self) -> dict[str, str]:
        tutorials = self.tutorials
        if tutorials is None:
            return {}
        local = tutorials.is_local or tutorials.is_builtin  # mounted: see _storage_volumes
        return {
            "DEVLAB_TUTORIALS_REPO": TUTORIALS_SOURCE if local else tutorials.repository,
            "DEVLAB_TUTORIALS_BRANCH": tutorials.branch,
            "DEVLAB_TUTORIALS_DIR": tutorials.directory,
        }

    def _install_lab_files(self, container_id: str) -> None:
        """Write passwd, group and the image's description into the created lab.

        The container is created but not started: the lab never needs root or a writable
        /etc, and the files are in place, root-owned and read-only to the user, before
        its first process runs. They go to the image's identity directory (a volume, for
        a read-only root) when it names one, else into /etc. devlab-image.json tells code
        in the lab which image and size it runs, with the image's labels (its version,
        its source). The extra CA bundle, when there is one, rides in the same archive:
        no Docker call more on the spawn's path.
        """
        identity, choice = self._this_start()
        labels = self.lab_image["Config"].get("Labels") or {}
        directory = self.identity_dir
        root = directory or "/etc"
        base = self._image_files(container_id, self.lab_image["Id"], root)
        shown = {k: v for k, v in labels.items() if not k.startswith("com.docker.compose.")}
        image_info = {"image": self.image, "size": choice.size.name, "labels": shown}
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

    # Image id -> its own passwd and group, most recently used last (IMAGE_FILES_KEPT).
    _image_files_kept: ClassVar[OrderedDict[str, dict[str, str]]] = OrderedDict()
    _image_files_lock: ClassVar[threading.Lock] = threading.Lock()

    def _image_files(self, container_id: str, image_id: str, directory: str) -> dict[str, str]:
        """The image's own passwd and group, read once per image id.

        Two Docker calls per spawn otherwise, queued behind everyone else's.
        """
        kept = DevlabSpawner._image_files_kept
        with DevlabSpawner._image_files_lock:
            files = kept.get(image_id)
            if files is not None:
                kept.move_to_end(image_id)
                return files
        files = {name: self._read_file(container_id, f"{directory}/{name}") for name in FILES}
        with DevlabSpawner._image_files_lock:
            kept[image_id] = files
            while len(kept) > IMAGE_FILES_KEPT:
                kept.popitem(last=False)
        return files

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


def menu_form(spawner: DevlabSpawner) -> str:
    """JupyterHub's options_form: rendered from the live menu at every visit."""
    return render_form(spawner.menu())
