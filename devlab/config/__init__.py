"""devlab's platform configuration: typed models of config/devlab.yaml and their loader."""

from devlab.config.loader import ConfigError, load_config, parse_config
from devlab.config.models import (
    AuthConfig,
    DevlabConfig,
    LabConfig,
    MockGitHub,
    MockOrg,
    MockTeam,
    MockUser,
)

__all__ = [
    "AuthConfig",
    "ConfigError",
    "DevlabConfig",
    "LabConfig",
    "MockGitHub",
    "MockOrg",
    "MockTeam",
    "MockUser",
    "load_config",
    "parse_config",
]
