"""Isolation, probed as a curious user would: from inside a lab, and from another host on the LAN.

A lab reaches the hub's API and its own route and nothing else of the platform; the NFS
exports serve only the engine and the host; beyond loopback only the hub's port is
published.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import docker
import pytest
import yaml

from devlab.config import load_config
from devlab.platform import DEFAULT_CONFIG
from devlab.polling import poll_until
from devlab.stack import engine, probe
from devlab.stack.isolation import SERVICE_PORTS
from devlab.testing.stack import free_port

BOB = 7000002


def internal_addresses(devlab) -> dict[str, str]:
    """Each service's address on the stack network, seen from the host's engine."""
    client = docker.from_env()
    found = {}
    for container in client.containers.list(
        filters={
            "label": [f"com.docker.compose.project={devlab.name}", "com.docker.compose.oneoff"]
        }
    ):
        network = container.attrs["NetworkSettings"]["Networks"].get(f"{devlab.name}_default")
        if network:
            found[container.labels["com.docker.compose.service"]] = network["IPAddress"]
    return found


def lab_address(devlab, user: str) -> str:
    client = docker.from_env()
    (lab,) = client.containers.list(
        filters={"label": [f"devlab.stack={devlab.name}", f"devlab.user={user}"]}
    )
    return next(iter(lab.attrs["NetworkSettings"]["Networks"].values()))["IPAddress"]


def run_probe_in(lab, targets: list[tuple[str, int]]) -> dict[tuple[str, int], str]:
    """The probe, run by the user's own kernel: what their code can reach."""
    source = Path(probe.__file__).read_text()
    code = textwrap.dedent(
        f"""
        import json
        namespace = {{"__name__": "probe"}}
        exec(compile({source!r}, "probe.py", "exec"), namespace)
        targets = [{{"host": h, "port": p}} for h, p in {targets!r}]
        print(json.dumps(namespace["probe"](targets, 2.0)))
        """
    )
    result = lab.execute(code)
    assert result.ok, result.error
    return {(r["host"], r["port"]): r["verdict"] for r in json.loads(result.stdout)}


@pytest.fixture(scope="module")
def two_labs(devlab, tmp_path_factory):
    """alice's and bob's labs, on a stack that runs every optional service (the registry)."""
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    config["local_registry"] = True
    path = tmp_path_factory.mktemp("isolation") / "devlab.yaml"
    path.write_text(yaml.safe_dump(config))
    devlab.up(config=path)
    alice = devlab.login("alice")
    bob = devlab.login("bob")
    labs = alice.spawn(), bob.spawn()
    yield labs
    for user in (alice, bob):
        user.stop_server()
    devlab.up()  # the session's own config for later modules


def test_from_alices_lab_only_the_hub_and_her_own_route_answer(devlab, two_labs):
    alice_lab, _ = two_labs
    services = internal_addresses(devlab)
    assert {"hub", "proxy", "oauth", "nfs", "prepuller", "registry"} <= set(services)
    blocked_names = [("nfs", 2049), ("oauth", 8090), ("registry", 5000), ("prepuller", 80)]
    blocked_names += [("proxy-api", 8001), ("docker-proxy", 80)]
    by_address = [
        (address, port)
        for service, address in services.items()
        for port in SERVICE_PORTS.get(service) or (80,)
    ]
    bobs_lab = (lab_address(devlab, "bob"), 8888)
    seen = run_probe_in(
        alice_lab,
        [("hub", 8081), ("proxy", 8000), ("proxy", 8001), *blocked_names, *by_address, bobs_lab],
    )
    assert seen[("hub", 8081)] == "open"
    assert seen[("proxy", 8000)] == "open"
    assert seen[("proxy", 8001)] == "refused", "CHP's routing API must not listen where labs are"
    for target in blocked_names:
        assert seen[target] == "unresolved", (target, seen[target])
    for target in [*by_address, bobs_lab]:
        assert seen[target] in ("timeout", "unreachable"), (target, seen[target])

    # Her own server answered the kernel above; the hub's API knows her by her token.
    whoami = alice_lab.execute(
        "import json, os, urllib.request as u\n"
        "r = u.Request(os.environ['JUPYTERHUB_API_URL'] + '/user',"
        " headers={'Authorization': 'token ' + os.environ['JUPYTERHUB_API_TOKEN']})\n"
        "print(json.load(u.urlopen(r, timeout=10))['name'])"
    )
    assert whoami.stdout.strip() == "alice", whoami


def test_devlab_check_isolation_counts_no_reachable_internal_port(devlab, two_labs):
    result = devlab.cli("check", "isolation", "--user", "alice", "--json")
    report = json.loads(result.stdout)
    assert report["internal_ports_reached"] == 0, report
    assert report["ok"], [p for p in report["probes"] if not p["ok"]]
    assert "labs cannot reach it" in devlab.status().nfs_access
    probed = {p["name"] for p in report["probes"]}
    assert "bob's lab" in probed
    assert any(name.startswith("nfs by") for name in probed)


@pytest.fixture(scope="module")
def nfs_rs_wheel(tmp_path_factory) -> Path:
    """The userspace NFS client a user could install with their lab's own pip."""
    folder = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
            str(folder),
            "nfs-rs",
        ],
        check=True,
    )
    (wheel,) = folder.glob("nfs_rs-*.whl")
    return wheel


def test_an_nfs_client_in_a_lab_claiming_bobs_uid_gets_nothing(devlab, two_labs, nfs_rs_wheel):
    alice_lab, _ = two_labs
    alice_lab.write_file(nfs_rs_wheel.name, nfs_rs_wheel.read_bytes())  # uploaded, as a user can
    nfs_address = internal_addresses(devlab)["nfs"]
    code = textwrap.dedent(
        f"""
        import os, subprocess, sys
        target = os.path.expanduser("~/.nfs-client")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                        "--target", target, os.path.expanduser("~/{nfs_rs_wheel.name}")],
                       check=True)
        sys.path.insert(0, target)
        import nfs_rs
        for host in ("nfs", "{nfs_address}"):
            try:
                client = nfs_rs.Client.connect(
                    f"nfs://{{host}}/homes", versions=["4.1"], nfs_port=2049, uid={BOB},
                    gid={BOB}, noresvport=True, connect_timeout=5, operation_timeout=5)
                print(host, "CONNECTED", client.listdir("bob"))
            except Exception as exc:
                print(host, "refused:", type(exc).__name__)
        """
    )
    result = alice_lab.execute(code, timeout=180)
    assert result.ok, result.error
    assert "CONNECTED" not in result.stdout, result.stdout
    assert result.stdout.count("refused:") == 2, result.stdout


def test_the_exports_refuse_a_container_on_the_stack_network(devlab):
    """Any container but the engine's mount (and the host) is refused by the exports."""
    client = docker.from_env()
    image = client.containers.list(
        filters={
            "label": [
                f"com.docker.compose.project={devlab.name}",
                "com.docker.compose.service=nfs",
                "com.docker.compose.oneoff",
            ]
        }
    )[0].image
    output = client.containers.run(
        image,
        ["bash", "-c", "nfs-healthcheck 2049 nfs 2>&1; echo exit=$?"],
        network=f"{devlab.name}_default",
        remove=True,
        entrypoint=[],
    ).decode()
    # An RPC reply came (xid "devl", accepted), with an NFS error status: the server
    # answered and refused, rather than being unreachable.
    assert "exit=1" in output, output
    assert "6465766c00000001" in output, output
    assert "6465766c000000010000000000000000000000000000000000000000" not in output, output


# ---------------------------------------------------------------------------------------
# From another host on the LAN: a network namespace with its own address, as a laptop in
# the room would be, and the stack bound to the machine's address on that link.

HOST_ADDRESS, LAN_ADDRESS = "10.199.77.1", "10.199.77.2"


@pytest.fixture
def lan_host():
    """A network namespace joined to the machine by a veth pair: another host on a LAN."""
    tag = uuid.uuid4().hex[:6]
    namespace, host_end, lan_end = f"devlab-lan-{tag}", f"dlh{tag}", f"dll{tag}"
    commands = [
        ["ip", "netns", "add", namespace],
        ["ip", "link", "add", host_end, "type", "veth", "peer", "name", lan_end],
        ["ip", "link", "set", lan_end, "netns", namespace],
        ["ip", "addr", "add", f"{HOST_ADDRESS}/30", "dev", host_end],
        ["ip", "link", "set", host_end, "up"],
        ["ip", "-n", namespace, "addr", "add", f"{LAN_ADDRESS}/30", "dev", lan_end],
        ["ip", "-n", namespace, "link", "set", lan_end, "up"],
        ["ip", "-n", namespace, "link", "set", "lo", "up"],
    ]
    try:
        for command in commands:
            subprocess.run(command, check=True, capture_output=True)
        yield namespace
    finally:
        subprocess.run(["ip", "link", "del", host_end], capture_output=True)
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True)


def probe_from(namespace: str, ports: dict[str, int]) -> dict[str, str]:
    targets = json.dumps([{"host": HOST_ADDRESS, "port": p} for p in ports.values()])
    out = subprocess.run(
        ["ip", "netns", "exec", namespace, sys.executable, probe.__file__, targets, "3"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(zip(ports, (r["verdict"] for r in json.loads(out)), strict=True))


def test_beyond_loopback_only_the_hub_port_is_published(devlab, lan_host, tmp_path):
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    config["local_registry"] = True  # so the registry runs, and must stay off the LAN
    path = tmp_path / "devlab.yaml"
    path.write_text(yaml.safe_dump(config))
    stack = f"devlab-lantest-{uuid.uuid4().hex[:8]}"
    hub, oauth, nfs, registry = (str(free_port()) for _ in range(4))
    try:
        devlab.cli(
            "up",
            "--config",
            str(path),
            "--profile",
            "workshop",
            "--bind",
            HOST_ADDRESS,
            "--tls-self-signed",
            "--port",
            hub,
            "--oauth-port",
            oauth,
            "--nfs-port",
            nfs,
            "--registry-port",
            registry,
            "--stack",
            stack,
        )
        seen = probe_from(
            lan_host,
            {"hub": int(hub), "nfs": int(nfs), "registry": int(registry), "oauth": int(oauth)},
        )
        assert seen == {"hub": "open", "nfs": "refused", "registry": "refused", "oauth": "refused"}
    finally:
        devlab.cli("down", "--volumes", "--yes", "--stack", stack, check=False)
    assert engine.leftovers(docker.from_env(), stack) == []


def test_a_lab_runs_on_a_read_only_root_with_its_identity_in_place(devlab, two_labs):
    alice_lab, _ = two_labs
    result = alice_lab.execute(
        textwrap.dedent(
            """
            import errno, grp, json, os, pwd
            for path in ("/opt/lab/x", "/etc/x", "/usr/local/bin/x", "/var/tmp/x"):
                try:
                    open(path, "w").close()
                    print(path, "WRITABLE")
                except OSError as exc:
                    print(path, errno.errorcode[exc.errno])
            for path in ("/tmp/x", os.path.expanduser("~/x")):
                open(path, "w").close()
                os.remove(path)
            print("me", pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name)
            print("image", json.load(open("/etc/devlab-image.json"))["size"])
            """
        )
    )
    assert result.ok, result.error
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    for path in ("/opt/lab/x", "/etc/x", "/usr/local/bin/x", "/var/tmp/x"):
        assert lines[path] == "EROFS", result.stdout
    assert lines["me"] == "alice alice"
    # The file the spawner wrote, read through /etc's link: no size asked, the default.
    assert lines["image"] == load_config(DEFAULT_CONFIG).catalog.default_size_name
    client = docker.from_env()
    (lab,) = client.containers.list(
        filters={"label": [f"devlab.stack={devlab.name}", "devlab.user=alice"]}
    )
    assert lab.attrs["HostConfig"]["ReadonlyRootfs"] is True


def test_a_lab_restarted_at_once_gets_its_network_back_and_it_goes_after(devlab):
    """JupyterHub drops a stopped Spawner: the next start must still wait for the last
    stop's network removal (which races the engine's own removal of the lab)."""
    carol = devlab.login("carol")
    for _ in range(3):
        lab = carol.spawn()
        assert lab.execute("print(6 * 7)").stdout.strip() == "42"
        lab.stop()
    name = f"{devlab.name}_lab-carol"
    client = docker.from_env()
    poll_until(
        lambda: not [n for n in client.networks.list(names=[name]) if n.name == name],
        f"{name} removed after the lab stopped",
        timeout=60,
        interval=0.5,
    )
