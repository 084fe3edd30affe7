"""What every lab container carries besides its user's settings: labels and hardening.

Apart from the JupyterHub wiring so that the CLI, which finds labs by these labels, and
the benchmark's raw-Docker floor, which must run exactly like a spawned lab, can use
them without importing JupyterHub.
"""

from typing import Any

# Labels, not names, are how devlab finds labs: a lab outlives the hub that spawned it,
# and its name is not a Compose resource.
LABEL_STACK = "devlab.stack"
LABEL_USER = "devlab.user"

# No capabilities, no privilege gain through setuid binaries, a proper init so the server
# gets signals, and a bound on runaway process trees.
LAB_HOST_CONFIG: dict[str, Any] = {
    "init": True,
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges"],
    "pids_limit": 1024,
}
