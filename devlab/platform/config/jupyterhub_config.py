# JupyterHub configuration for devlab. Everything platform-specific lives in
# config/devlab.yaml; this file only hands it to devlab's wiring.
from devlab.hub.wiring import configure

configure(c)
