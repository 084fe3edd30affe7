"""The extra CA bundle for labs: what is combined, where it goes, which variables name it."""

from pathlib import Path

import pytest
from traitlets.config import Config

from devlab.hub.certificates import (
    CaBundleError,
    certificates,
    combined_bundle,
    lab_ca_environment,
    lab_ca_path,
)
from devlab.hub.wiring import configure


def pem(body: str) -> str:
    return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----"


SYSTEM = f"# Debian's store\n{pem('c3lzdGVtMQ==')}\n{pem('c3lzdGVtMg==')}\n"
PROXY = pem("cHJveHk=")


def test_no_extra_bundle_means_nothing_for_labs():
    assert combined_bundle(SYSTEM, "") is None
    assert combined_bundle(SYSTEM, " \n\n") is None


def test_the_extra_certificates_come_after_the_systems_once_each():
    # CI passes the host's whole store, which repeats the system's: no duplicate.
    extra = f"{pem('c3lzdGVtMg==')}\r\n{PROXY}\r\n"
    combined = combined_bundle(SYSTEM, extra)
    assert combined is not None
    assert certificates(combined) == [pem("c3lzdGVtMQ=="), pem("c3lzdGVtMg=="), PROXY]
    assert combined.endswith("-----END CERTIFICATE-----\n")


def test_an_extra_bundle_without_a_pem_certificate_is_refused():
    with pytest.raises(CaBundleError, match=r"no PEM certificate.*DEVLAB_CA_BUNDLE"):
        combined_bundle(SYSTEM, "0\x82\x03 DER bytes are not PEM")


def test_the_bundle_lives_in_the_identity_directory_or_etc_devlab():
    assert lab_ca_path("/etc/devlab") == "/etc/devlab/ca-certificates.crt"
    assert lab_ca_path("/opt/ids/") == "/opt/ids/ca-certificates.crt"
    assert lab_ca_path(None) == "/etc/devlab/ca-certificates.crt"


def test_pip_requests_openssl_git_and_node_all_read_it():
    assert lab_ca_environment("/x/ca.crt") == {
        "PIP_CERT": "/x/ca.crt",
        "REQUESTS_CA_BUNDLE": "/x/ca.crt",
        "SSL_CERT_FILE": "/x/ca.crt",
        "GIT_SSL_CAINFO": "/x/ca.crt",
        "NODE_EXTRA_CA_CERTS": "/x/ca.crt",
    }


@pytest.fixture
def hub_env(hub_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    system = tmp_path / "system.crt"
    system.write_text(SYSTEM)
    return {**hub_env, "DEVLAB_SYSTEM_CA_BUNDLE": str(system)}


def test_the_hub_gives_labs_the_combined_bundle_from_its_secret(hub_env):
    (Path(hub_env["DEVLAB_SECRETS_PATH"]) / "ca_bundle").write_text(PROXY + "\n")
    c = Config()
    configure(c, hub_env)
    assert certificates(c.DevlabSpawner.lab_ca_bundle) == [*certificates(SYSTEM), PROXY]


@pytest.mark.parametrize("secret", ["", None], ids=["empty secret", "no secret"])
def test_with_no_extra_ca_the_hub_gives_labs_none(hub_env, secret):
    if secret is not None:
        (Path(hub_env["DEVLAB_SECRETS_PATH"]) / "ca_bundle").write_text(secret)
    c = Config()
    configure(c, hub_env)
    assert c.DevlabSpawner.lab_ca_bundle == ""
