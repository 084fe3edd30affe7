"""Fixtures shared by unit tests."""

import pytest

from devlab.platform import DEFAULT_CONFIG
from devlab.stack.secrets import ensure_secrets


@pytest.fixture
def hub_env(tmp_path):
    """What compose.yaml passes the hub container, pointing at files under tmp_path."""
    ensure_secrets(tmp_path / "secrets")
    return {
        "DEVLAB_STACK": "s1",
        "DEVLAB_LAB_IMAGE": "devlab/lab:test",
        "DEVLAB_STORAGE_MODE": "volume",
        "DEVLAB_NFS_PORT": "12049",
        "DEVLAB_HUB_PUBLIC_URL": "http://127.0.0.1:8000/",
        "DEVLAB_OAUTH_PUBLIC_URL": "http://127.0.0.1:8090",
        "DEVLAB_CILOGON_PUBLIC_URL": "http://127.0.0.1:8091",
        "DEVLAB_CONFIG_PATH": str(DEFAULT_CONFIG),
        "DEVLAB_SECRETS_PATH": str(tmp_path / "secrets"),
        "DEVLAB_HUB_DATA": str(tmp_path / "data"),
        # The default config publishes the builtin tutorials: here, not in /srv.
        "DEVLAB_TUTORIALS_PATH": str(tmp_path / "tutorials.git"),
    }
