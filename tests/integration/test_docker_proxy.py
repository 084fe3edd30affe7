"""The Docker proxy: the hub and the prepuller reach the engine only through it.

The attacks are made from inside the hub container, with the docker SDK and the
DOCKER_HOST the hub itself uses, as code that took over the hub process would.
"""

from __future__ import annotations

import json
import textwrap

import docker

from devlab.stack.engine import service_containers

ENGINE_SOCKET = "/var/run/docker.sock"


def service(devlab, name: str):
    (container,) = service_containers(docker.from_env(), devlab.name, name)
    return container


def run_as_the_hub(devlab, code: str) -> dict:
    """Run `code` with python in the hub container; it prints one JSON line."""
    result = service(devlab, "hub").exec_run(["python3", "-c", textwrap.dedent(code)])
    assert result.exit_code == 0, result.output.decode()
    return json.loads(result.output.decode().strip().splitlines()[-1])


def test_only_the_proxy_mounts_the_engines_socket(devlab):
    sources = {
        name: {m.get("Source") for m in service(devlab, name).attrs["Mounts"]}
        for name in ("hub", "prepuller", "docker-proxy")
    }
    assert ENGINE_SOCKET not in sources["hub"]
    assert ENGINE_SOCKET not in sources["prepuller"]
    assert ENGINE_SOCKET in sources["docker-proxy"]


def test_the_hub_cannot_escape_through_the_proxy(devlab):
    hub = service(devlab, "hub")
    status = devlab.status()
    outcome = run_as_the_hub(
        devlab,
        f"""
        import json, docker
        from docker.types import IPAMConfig, IPAMPool
        from devlab.config import load_config
        from devlab.hub.networks import free_subnet

        client = docker.from_env().api  # DOCKER_HOST: the hub's proxy socket
        labels = {{"devlab.stack": {devlab.name!r}, "devlab.user": "mallory"}}
        # A lab network, made as the spawner makes one.
        pool = load_config("/etc/devlab/devlab.yaml").lab.network_pool
        used = [
            c["Subnet"] for n in client.networks() for c in (n["IPAM"]["Config"] or [])
        ]
        network = client.create_network(
            {devlab.name + "_lab-mallory"!r},
            driver="bridge",
            ipam=IPAMConfig(pool_configs=[IPAMPool(subnet=str(free_subnet(pool, used)))]),
            labels=labels,
        )

        def create(**host):
            config = dict(
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                network_mode={devlab.name + "_lab-mallory"!r},
                **host,
            )
            return client.create_container(
                {status.lab_image!r}, "true", user="7000009:7000009", labels=labels,
                host_config=client.create_host_config(**config),
            )

        def attempt(call):
            try:
                return ["allowed", call()]
            except docker.errors.APIError as exc:
                return [exc.status_code, exc.explanation]

        outcome = {{
            "privileged": attempt(lambda: create(privileged=True)),
            "bind /": attempt(lambda: create(binds={{"/": {{"bind": "/host", "mode": "ro"}}}})),
            "exec into the hub": attempt(lambda: client.exec_create({hub.id!r}, "id")),
            "harmless": attempt(lambda: create()),
        }}
        if outcome["harmless"][0] == "allowed":  # the proxy allows it: a lab's own shape
            client.remove_container(outcome["harmless"][1]["Id"])
        client.remove_network(network["Id"])
        print(json.dumps(outcome))
        """,
    )
    for attack, reason in (
        ("privileged", "privileged"),
        ("bind /", "host path /"),
        ("exec into the hub", "not an API call the hub makes"),
    ):
        status_code, message = outcome[attack]
        assert status_code == 403, (attack, outcome[attack])
        assert message.startswith("devlab docker-proxy refused: "), message
        assert reason in message, message
    assert outcome["harmless"][0] == "allowed", outcome["harmless"]
    logs = devlab.logs("docker-proxy")
    assert "refused POST" in logs
    assert "privileged containers are not allowed" in logs


def test_the_prepuller_can_handle_images_only(devlab):
    result = service(devlab, "prepuller").exec_run(
        [
            "python3",
            "-c",
            "import docker; c = docker.from_env()\n"
            "print(len(c.images.list()) > 0)\n"
            "try:\n"
            "    c.containers.create('x', 'true')\n"
            "except docker.errors.APIError as exc:\n"
            "    print(exc.status_code, exc.explanation)",
        ]
    )
    assert result.exit_code == 0, result.output.decode()
    listed, refused = result.output.decode().strip().splitlines()
    assert listed == "True"
    assert refused.startswith("403 devlab docker-proxy refused: POST /containers/create")


def test_the_hub_spawns_inspects_and_stops_labs_through_the_proxy(devlab):
    api = devlab.api()
    api.ensure_user("alice")
    api.start_server("alice")
    api.wait_ready("alice")
    reply = api.request("GET", "/user/alice/api/status")
    assert reply.status_code == 200, reply.text
    api.stop_server("alice")
    api.wait_stopped("alice")
    labs = docker.from_env().containers.list(
        all=True, filters={"label": [f"devlab.stack={devlab.name}", "devlab.user=alice"]}
    )
    assert labs == []
    assert "Docker proxy error" not in devlab.logs("docker-proxy")
