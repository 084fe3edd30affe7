"""Who a lab runs as: GitHub-style users and orgs mapped to Unix uids, gids and names.

Pure logic: no Docker, HTTP or JupyterHub imports, so it is tested in milliseconds.
"""

from devlab.identity.model import Group, Identity
from devlab.identity.policy import IdentityError, check_system_id

__all__ = ["Group", "Identity", "IdentityError", "check_system_id"]
