"""A running stack reached as its users reach it: logging in like a browser, a lab's REST
API and its kernels over a websocket.

Shared by the pytest plugin (devlab.testing) and `devlab bench`, so it needs only the
base install (requests, websocket-client): `devlab bench` must run without the test extra.
"""
