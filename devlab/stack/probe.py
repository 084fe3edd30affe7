"""Run inside a lab (standard library only): try a TCP connection to each target.

`devlab check isolation` and the isolation tests send this file's source to a lab's own
Python, so what it sees is exactly what a user's code in that lab can reach.
Usage: python3 probe.py '[{"host": "nfs", "port": 2049}, ...]' [timeout seconds]
"""

from __future__ import annotations

import json
import socket
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

# What a verdict means for the target's host: reached answers (open, or refused by a host
# that got the packet); unresolved, timeout and unreachable mean the network stops it.
HOST_REACHED = ("open", "refused")


def verdict(host: str, port: int, timeout: float) -> str:
    try:
        address = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)[0][4]
    except socket.gaierror:
        return "unresolved"
    try:
        with socket.create_connection(address, timeout=timeout):
            return "open"
    except ConnectionRefusedError:
        return "refused"
    except TimeoutError:
        return "timeout"
    except OSError:  # no route, network unreachable
        return "unreachable"


def probe(targets: list[dict[str, Any]], timeout: float = 2.0) -> list[dict[str, Any]]:
    """Each target with its verdict; in parallel, since dropped packets cost a timeout each."""
    with ThreadPoolExecutor(max_workers=16) as pool:
        verdicts = pool.map(lambda t: verdict(t["host"], int(t["port"]), timeout), targets)
        return [{**target, "verdict": v} for target, v in zip(targets, verdicts, strict=True)]


if __name__ == "__main__":
    wait = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
    print(json.dumps(probe(json.loads(sys.argv[1]), wait)))
