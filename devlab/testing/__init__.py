"""Testing with devlab stacks: DevlabStack (a context manager), the pytest plugin's
`devlab` fixture built on it, and clients for logins, labs, kernels and notebooks."""

from devlab.testing.stack import DevlabStack

__all__ = ["DevlabStack"]
