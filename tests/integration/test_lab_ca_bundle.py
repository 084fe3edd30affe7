"""Behind an HTTPS-intercepting proxy, pip in a lab works: the lab trusts DEVLAB_CA_BUNDLE.

CI runs behind such a proxy and sets DEVLAB_CA_BUNDLE to the host's bundle, which holds
the proxy's CA; the lab image's own store does not, so pip there fails without it.
"""

from __future__ import annotations

import json
import textwrap

import docker
import pytest

from devlab.hub.certificates import certificates
from devlab.stack.engine import service_containers

VARIABLES = (
    "PIP_CERT",
    "REQUESTS_CA_BUNDLE",
    "SSL_CERT_FILE",
    "GIT_SSL_CAINFO",
    "NODE_EXTRA_CA_CERTS",
)

IN_THE_LAB = textwrap.dedent(
    """
    import json, os, subprocess, sys, urllib.request
    import requests
    path = os.environ.get("PIP_CERT")
    found = {"env": {v: os.environ.get(v) for v in variables}, "uid": os.getuid()}
    if path:
        status = os.stat(path)
        found.update(
            owner=status.st_uid, mode=status.st_mode & 0o7777,
            writable=os.access(path, os.W_OK), text=open(path).read(),
        )
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
         "--no-cache-dir", "--dest", "/tmp/pip-ca-test", "six==1.16.0"],
        capture_output=True, text=True, timeout=120,
    )
    found["pip"] = [pip.returncode, pip.stdout[-2000:] + pip.stderr[-2000:]]
    found["downloaded"] = sorted(os.listdir("/tmp/pip-ca-test")) if pip.returncode == 0 else []
    # requests (REQUESTS_CA_BUNDLE) and Python's own ssl (SSL_CERT_FILE) trust it too.
    found["requests"] = requests.get("https://pypi.org/simple/six/", timeout=30).status_code
    found["urllib"] = urllib.request.urlopen("https://pypi.org/simple/six/", timeout=30).status
    print(json.dumps(found))
    """
)


def test_pip_in_a_lab_trusts_the_extra_ca_bundle_read_only(devlab):
    extra = devlab.settings.ca_bundle
    if extra is None:
        pytest.skip("DEVLAB_CA_BUNDLE is not set (CI sets it: it runs behind a proxy)")
    lab = devlab.login("alice").spawn()
    result = lab.execute(f"variables = {VARIABLES!r}\n{IN_THE_LAB}", timeout=240)
    assert result.ok, result.error
    found = json.loads(result.stdout)

    path = "/etc/devlab/ca-certificates.crt"  # the lab image's identity directory
    assert found["env"] == dict.fromkeys(VARIABLES, path)
    assert found["uid"] != 0
    assert (found["owner"], found["mode"], found["writable"]) == (0, 0o444, False)
    # The extra bundle's certificates and the system's (the hub image's Debian store).
    (hub,) = service_containers(docker.from_env(), devlab.name, "hub")
    system = hub.exec_run(["cat", "/etc/ssl/certs/ca-certificates.crt"]).output.decode()
    in_lab = set(certificates(found["text"]))
    assert set(certificates(extra.read_text())) <= in_lab
    assert certificates(system)
    assert set(certificates(system)) <= in_lab

    returncode, output = found["pip"]
    assert returncode == 0, output
    assert found["downloaded"] == ["six-1.16.0-py2.py3-none-any.whl"]
    assert (found["requests"], found["urllib"]) == (200, 200)
