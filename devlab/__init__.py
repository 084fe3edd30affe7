"""devlab: a JupyterHub science platform on one machine."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("devlab")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
