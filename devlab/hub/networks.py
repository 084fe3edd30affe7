"""Each lab's own network: names and address ranges (pure; the spawner does the I/O).

Zero to JupyterHub's singleuser NetworkPolicy lets a lab talk to the hub and the proxy and
nothing else of the platform. On one Docker engine the closest equivalent is a network per
lab that only the lab, the hub and the proxy join: a lab cannot reach the stack's
internal services (nfs, oauth, registry, prepuller, CHP's API) nor another user's lab,
because the engine drops traffic between different bridge networks.

The engine's default address pools hold about 30 bridge networks, far fewer than the
labs of a workshop, so each lab network takes an explicit small subnet from a
configurable pool instead.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from devlab.config.models import LAB_SUBNET_PREFIX

# Every lab network of a stack starts with this, so `down` and the Docker proxy's policy
# can recognise them; the rest is the user's escaped name.
LAB_NETWORK_INFIX = "_lab-"


# The stack's services that join every lab network, with the names labs know them by.
# Found by Compose's labels; images built by Compose carry project and service labels
# that their containers inherit, so only containers that also have the oneoff label
# (which Compose alone sets) count.
LAB_PEERS = {"hub": ("hub",), "proxy": ("proxy",)}
COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"
COMPOSE_ONEOFF = "com.docker.compose.oneoff"


def service_filter(stack: str, service: str | None = None) -> list[str]:
    """Engine label filters for the containers Compose made for `stack` (one `service`)."""
    labels = [f"{COMPOSE_PROJECT}={stack}", COMPOSE_ONEOFF]
    return labels + ([f"{COMPOSE_SERVICE}={service}"] if service else [])


def lab_network_prefix(stack: str) -> str:
    return f"{stack}{LAB_NETWORK_INFIX}"


def lab_network_name(stack: str, escaped_user: str) -> str:
    """The network of one user's lab; `escaped_user` is DockerSpawner's escaped name."""
    return f"{lab_network_prefix(stack)}{escaped_user}"


def free_subnet(
    pool: str, used: Iterable[str], prefix: int = LAB_SUBNET_PREFIX
) -> ipaddress.IPv4Network:
    """The first /`prefix` of `pool` that overlaps none of the `used` subnets.

    `used` is every subnet the engine already has, of any stack: two stacks on one
    engine share the pool and must not collide.
    """
    taken = []
    for subnet in used:
        try:
            taken.append(ipaddress.ip_network(subnet, strict=False))
        except ValueError:
            continue  # not an address range (e.g. an empty IPAM entry)
    for candidate in ipaddress.IPv4Network(pool).subnets(new_prefix=prefix):
        if not any(candidate.overlaps(other) for other in taken if other.version == 4):
            return candidate
    raise LabNetworkError(
        f"no free /{prefix} left in the lab network pool {pool}: stop some labs, or set a "
        "larger lab.network_pool in devlab.yaml"
    )


class LabNetworkError(RuntimeError):
    """No network can be made for a lab; the message says how to fix it."""
