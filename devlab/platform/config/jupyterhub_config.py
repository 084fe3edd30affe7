# JupyterHub configuration for devlab. Everything platform-specific lives in
# config/devlab.yaml; this file only hands it to devlab's wiring.
from devlab.hub.wiring import configure, wait_for_engine

wait_for_engine()  # docker-proxy may start after the hub when the engine restarts
configure(c)
