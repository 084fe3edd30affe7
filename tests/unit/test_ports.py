"""Port conflicts: messages from facts, and holders found on this machine for real."""

import os
import socket
from pathlib import Path

import pytest

from devlab.stack.ports import (
    ContainerHolder,
    PortConflict,
    closing_sockets,
    conflicts,
    container_holder,
    describe,
    describe_process,
    find_holder,
    listening_inodes,
    process_holder,
    published_by,
    suggest_free_port,
)

WANTED = {"hub (--port)": 8000, "mock OAuth (--oauth-port)": 8090, "NFS (--nfs-port)": 12049}


def test_conflicts_are_the_held_wanted_ports_in_order():
    holders = {12049: "container x", 8000: "process python3 (pid 1234)", 9999: "unrelated"}
    assert conflicts(WANTED, holders, {8000: 8001}) == [
        PortConflict("hub (--port)", 8000, "process python3 (pid 1234)", 8001),
        PortConflict("NFS (--nfs-port)", 12049, "container x", None),
    ]
    assert conflicts(WANTED, {}) == []


def test_describe_names_holder_option_and_alternative():
    conflict = PortConflict("hub (--port)", 8000, "process python3 (pid 1234)", 8001)
    assert describe(conflict) == (
        "port 8000 (hub, --port) is taken by process python3 (pid 1234); "
        "stop it or choose another with --port 8001"
    )


def test_describe_without_alternative_or_option():
    assert describe(PortConflict("mock OAuth (--oauth-port)", 8090, "another process")) == (
        "port 8090 (mock OAuth, --oauth-port) is taken by another process; "
        "stop it or choose another with --oauth-port PORT"
    )
    assert describe(PortConflict("metrics", 9100, "another process", 9101)) == (
        "port 9100 (metrics) is taken by another process; stop it or choose another port"
    )


PROC_NET_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1
   1: 0100007F:1F40 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 4343 1
   2: 00000000:1F9A 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 77 1
   3: garbage
"""
ZEROS = "0" * 32
PROC_NET_TCP6 = (
    "  sl local_address remote_address st tx_queue rx_queue tr tm->when retrnsmt uid tmo inode\n"
    f"   0: {ZEROS}:1F40 {ZEROS}:0000 0A 00000000:00000000 00:00000000 00000000 0 0 99 1\n"
)


def test_listening_inodes_read_listen_rows_of_that_port_only():
    assert listening_inodes(PROC_NET_TCP, 8000) == {4242}
    assert listening_inodes(PROC_NET_TCP, 8090) == {77}
    assert listening_inodes(PROC_NET_TCP, 12049) == set()
    assert listening_inodes(PROC_NET_TCP6, 8000) == {99}


def test_docker_proxy_stands_for_a_container():
    assert describe_process(12, "python3") == "process python3 (pid 12)"
    assert "Docker container" in describe_process(12, "docker-proxy")
    assert "`docker ps`" in describe_process(12, "docker-proxy")


SPARSE = {
    "Id": "abc",
    "Names": ["/devlab-proxy-1"],
    "Ports": [
        {"PrivatePort": 8081, "Type": "tcp"},
        {"IP": "127.0.0.1", "PrivatePort": 8000, "PublicPort": 8000, "Type": "tcp"},
        {"IP": "0.0.0.0", "PrivatePort": 53, "PublicPort": 5353, "Type": "udp"},
    ],
    "Labels": {"com.docker.compose.project": "devlab", "com.docker.compose.oneoff": "False"},
}
INSPECT = {
    "Name": "/web",
    "Config": {"Labels": {"com.docker.compose.project": "devlab"}},  # inherited from its image
    "NetworkSettings": {"Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8090"}]}},
}
STOPPED = {
    "Name": "/stopped",
    "Config": {"Labels": {}},
    "NetworkSettings": {"Ports": {}},
    "HostConfig": {"PortBindings": {"2049/tcp": [{"HostIp": "", "HostPort": "12049"}]}},
}


@pytest.mark.parametrize(
    ("attrs", "bind", "port", "expected"),
    [
        (SPARSE, "127.0.0.1", 8000, True),
        (SPARSE, "0.0.0.0", 8000, True),
        (SPARSE, "127.0.0.2", 8000, False),  # another loopback address is free
        (SPARSE, "127.0.0.1", 8081, False),  # exposed, not published
        (SPARSE, "127.0.0.1", 5353, False),  # UDP
        (INSPECT, "127.0.0.1", 8090, True),  # the container listens on every address
        (INSPECT, "127.0.0.1", 80, False),
        (STOPPED, "127.0.0.1", 12049, True),
    ],
)
def test_published_by_reads_list_and_inspect_shapes(attrs, bind, port, expected):
    assert published_by(attrs, bind, port) is expected


def test_container_holder_trusts_the_project_only_on_compose_containers():
    assert container_holder(SPARSE) == ContainerHolder("devlab-proxy-1", "devlab")
    assert str(container_holder(SPARSE)) == "container devlab-proxy-1 (Compose project devlab)"
    # Compose labels its images, so a plain `docker run` of one inherits the project label.
    assert str(container_holder(INSPECT)) == "container web"


@pytest.fixture
def listener():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_find_holder_names_this_process(listener):
    comm = Path(f"/proc/{os.getpid()}/comm").read_text().strip()
    expected = f"process {comm} (pid {os.getpid()})"
    assert find_holder("127.0.0.1", listener, None) == expected
    assert find_holder("0.0.0.0", listener, None) == expected  # the wildcard overlaps it
    assert process_holder(listener) == expected


def test_a_free_port_has_no_holder(listener):
    free = suggest_free_port("127.0.0.1", listener + 1)
    assert free > listener
    assert find_holder("127.0.0.1", free, None) is None


def test_suggest_free_port_skips_held_and_avoided_ports(listener):
    assert suggest_free_port("127.0.0.1", listener) != listener
    first = suggest_free_port("127.0.0.1", listener + 1)
    assert suggest_free_port("127.0.0.1", listener + 1, avoid={first}) > first


def closed_server(reuse: bool) -> int:
    """A port whose server closed a connection first, so the port has a TIME_WAIT socket."""
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, int(reuse))
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        accepted.close()
        client.close()
    return port


def test_closing_connections_of_a_reusable_socket_do_not_hold_a_port():
    """Docker binds with SO_REUSEADDR, like every Go listener: TIME_WAIT is no obstacle."""
    assert find_holder("127.0.0.1", closed_server(reuse=True), None) is None


def test_closing_connections_of_a_plain_socket_are_named():
    assert "TIME_WAIT" in (find_holder("127.0.0.1", closed_server(reuse=False), None) or "")


def test_closing_sockets_count_non_listening_rows():
    assert closing_sockets(PROC_NET_TCP, 8000) == 1
    assert closing_sockets(PROC_NET_TCP, 8090) == 0
