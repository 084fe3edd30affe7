"""How every lab container is hardened.

Apart from the JupyterHub wiring so that the benchmark's raw-Docker floor, which must
run exactly like a spawned lab, can use it without importing JupyterHub.
"""

from typing import Any

# No capabilities, no privilege gain through setuid binaries, a proper init so the server
# gets signals, and a bound on runaway process trees.
LAB_HOST_CONFIG: dict[str, Any] = {
    "init": True,
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges"],
    "pids_limit": 1024,
}
