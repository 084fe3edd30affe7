"""Logging in to a devlab hub, for tests: devlab.client.login, where `devlab bench` finds
it too without the test extra."""

from devlab.client.login import (
    LoginError,
    cilogon_mock_login,
    firstuse_login,
    github_mock_callback,
    github_mock_login,
    open_lab,
    post_spawn_form,
)

__all__ = [
    "LoginError",
    "cilogon_mock_login",
    "firstuse_login",
    "github_mock_callback",
    "github_mock_login",
    "open_lab",
    "post_spawn_form",
]
