"""The bench's one error: it cannot run against this stack."""


class BenchError(RuntimeError):
    """The bench cannot run against this stack; the message says why and what to do."""
