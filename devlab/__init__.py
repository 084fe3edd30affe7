"""devlab: a JupyterHub science platform on one machine."""

# The one place the version is written: pyproject.toml reads it (hatch), image tags and
# labels carry it, and the hub image (which copies this package rather than installing
# it) reports the same.
__version__ = "0.1.0"
