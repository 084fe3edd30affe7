"""The Docker proxy: the hub and the prepuller reach the engine only through it.

`policy` decides (pure data and checks), `server` does the socket I/O, and
`python -m devlab.dockerproxy` runs it as the stack's docker-proxy service.
"""
