"""`pip install devlab` (and `devlab[test]`) runs the CLI, the pytest plugin and the bench
without the hub extra: those libraries live in the hub image, not on users' machines."""

from __future__ import annotations

import subprocess
import sys

# The hub extra's libraries (pyproject.toml), which the base install does not have.
HUB_ONLY = ("jupyterhub", "dockerspawner", "oauthenticator", "jwt", "jinja2", "dulwich")


def test_cli_plugin_and_bench_import_without_the_hub_extra():
    blocked = "; ".join(f"sys.modules[{name!r}] = None" for name in HUB_ONLY)
    code = (
        f"import sys; {blocked}; "
        "import devlab.cli, devlab.testing.plugin, devlab.bench, devlab.stack.lifecycle"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
