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
# An image label naming the directory its /etc/passwd and /etc/group link into. Labs of
# such images run with a read-only root (READ_ONLY_ROOT): the spawner writes the user's
# passwd and group into a volume of the lab's own mounted there, before the lab's first
# process; the engine refuses to write into a read-only root's /etc, not into a volume.
LABEL_IDENTITY_DIR = "devlab.identity-dir"

# No capabilities, no privilege gain through setuid binaries, a proper init so the server
# gets signals, and a bound on runaway process trees.
LAB_HOST_CONFIG: dict[str, Any] = {
    "init": True,
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges"],
    "pids_limit": 1024,
}

# A read-only root for images that allow it; /tmp is a tmpfs, counted in the lab's memory
# limit, so a full /tmp cannot fill the engine's disk either.
READ_ONLY_ROOT: dict[str, Any] = {
    "read_only": True,
    "tmpfs": {"/tmp": "rw,nosuid,nodev,mode=1777"},
}
