"""devlab's platform configuration: typed models of config/devlab.yaml and their loader."""

from devlab.config.loader import (
    ConfigError,
    LabBuildPaths,
    lab_build_paths,
    load_config,
    parse_config,
)
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
    "LabBuildPaths",
    "LabConfig",
    "MockGitHub",
    "MockOrg",
    "MockTeam",
    "MockUser",
    "lab_build_paths",
    "load_config",
    "parse_config",
]
