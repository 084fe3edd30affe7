"""The extra CA bundle (DEVLAB_CA_BUNDLE) in labs: which bundle, where, and who reads it.

Behind an HTTPS-intercepting proxy, pip in a lab fails certificate checks unless it
trusts the proxy's CA. Builds already get that CA as the `ca_bundle` build secret; labs
get a file combining it with the system's bundle, written by the spawner into the lab
before its first process (root-owned, read-only to the user), and the variables that
pip, requests and OpenSSL read point at it. With no extra CA, labs get nothing and keep
their image's own store.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

# Where a lab's combined bundle goes: its image's identity directory (a volume of the
# lab's own, for a read-only root), else this directory of the image's writable root.
LAB_CA_FILE = "ca-certificates.crt"
LAB_CA_DEFAULT_DIR = "/etc/devlab"
# pip (PIP_CERT), requests and so every tool built on it (REQUESTS_CA_BUNDLE), OpenSSL
# itself, which Python's ssl and urllib use (SSL_CERT_FILE), Debian's git, which is built
# on GnuTLS and reads none of those (GIT_SSL_CAINFO: tutorials from an https URL), and
# Node (NODE_EXTRA_CA_CERTS: npm and JupyterLab extension builds).
LAB_CA_VARIABLES = (
    "PIP_CERT",
    "REQUESTS_CA_BUNDLE",
    "SSL_CERT_FILE",
    "GIT_SSL_CAINFO",
    "NODE_EXTRA_CA_CERTS",
)
# Read-only to everyone: the lab's user is never root and cannot replace it.
LAB_CA_MODE = 0o444

_PEM_CERTIFICATE = re.compile(
    r"-----BEGIN CERTIFICATE-----\n.+?\n-----END CERTIFICATE-----", re.DOTALL
)


class CaBundleError(ValueError):
    """The extra CA bundle is not a PEM bundle; the message says how to fix it."""


def certificates(pem: str) -> list[str]:
    """The PEM certificate blocks of a bundle, in order, with Unix line ends."""
    return _PEM_CERTIFICATE.findall(pem.replace("\r\n", "\n"))


def combined_bundle(system: str, extra: str, extra_name: str = "DEVLAB_CA_BUNDLE") -> str | None:
    """The system's certificates, then the extra bundle's that are not among them.

    None when the extra bundle is empty (no extra CA: labs use their own store). A
    non-empty one without a single PEM certificate is refused: labs would silently
    go on failing every HTTPS check.
    """
    if not extra.strip():
        return None
    added = certificates(extra)
    if not added:
        raise CaBundleError(
            f"{extra_name} holds no PEM certificate (-----BEGIN CERTIFICATE-----): point "
            "DEVLAB_CA_BUNDLE at a PEM file of your proxy's CA certificates, or unset it"
        )
    return "\n".join(dict.fromkeys([*certificates(system), *added])) + "\n"


def lab_ca_path(identity_dir: str | None) -> str:
    """Where a lab of an image with this identity directory (or none) finds the bundle."""
    return str(PurePosixPath(identity_dir or LAB_CA_DEFAULT_DIR) / LAB_CA_FILE)


def lab_ca_environment(path: str) -> dict[str, str]:
    """The variables that make pip, requests and Python's ssl in a lab trust `path`."""
    return dict.fromkeys(LAB_CA_VARIABLES, path)
