"""What a stack is called and where it listens when no option or DEVLAB_* variable says.

The one place these live. `devlab up` resolves them (devlab.stack.settings) and writes
the result into compose.env, so compose.yaml and the hub read the values chosen, never a
default of their own, and the CLI's help quotes these.
"""

STACK = "devlab"
# What a laptop pulls; a machine without a registry builds its own (DEVLAB_BASE_IMAGE).
BASE_IMAGE = "debian:bookworm-slim"
BIND = "127.0.0.1"  # loopback: anything wider needs TLS (devlab.stack.settings)
HTTP_PORT = 8000  # the hub, through the proxy
OAUTH_PORT = 8090  # the mock GitHub provider
CILOGON_PORT = 8091  # the mock CILogon provider
NFS_PORT = 12049  # the NFS server, for the host's own clients
REGISTRY_PORT = 5000  # the optional local registry
