"""devlab's additions to jupyterhub-singleuser, installed in the lab image's Python.

devlab-lab-start selects `identity.DevlabIdentityProvider` on jupyterhub-singleuser's
command line. `hub_down` holds the decision it makes, importable without a server.
"""
