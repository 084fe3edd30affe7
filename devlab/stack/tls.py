"""The proxy's TLS certificate: the organiser's own, or a self-signed one devlab makes."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from devlab.stack.secrets import write_private
from devlab.stack.settings import StackSettings


def install_tls(settings: StackSettings, hosts: list[str]) -> None:
    """Put cert.pem and key.pem (0600) in the state's tls directory for the proxy."""
    directory = settings.tls_dir
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    if settings.tls is None:
        return
    cert, key = directory / "cert.pem", directory / "key.pem"
    if settings.tls.cert is not None and settings.tls.key is not None:
        write_private(cert, settings.tls.cert.read_bytes())
        write_private(key, settings.tls.key.read_bytes())
    elif not _covers(cert, hosts):
        cert_pem, key_pem = self_signed(hosts)
        write_private(cert, cert_pem)
        write_private(key, key_pem)


def hub_verify(settings: StackSettings) -> bool | str:
    """What the CLI's HTTPS client trusts when it calls this stack's hub (requests' `verify`).

    A certificate from a CA is checked against the system's CAs. A self-signed one (the
    one devlab makes, or an organiser's own) can only be trusted by pinning: it is the
    sole trust anchor, so any other certificate, even for the same names, is refused.
    Decided from the certificate itself: an organiser's own may be self-signed too.
    """
    cert = settings.tls_dir / "cert.pem"
    if settings.tls is None or not cert.is_file():
        return True
    return str(cert) if is_self_signed(cert.read_bytes()) else True


def is_self_signed(cert_pem: bytes) -> bool:
    """Whether the first certificate in `cert_pem` is signed by its own key."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _covers(cert_path: Path, hosts: list[str]) -> bool:
    """Whether an existing devlab certificate names every host (and is still valid)."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError):
        return False
    if cert.not_valid_after_utc < datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1):
        return False
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    present = {str(n) for n in names.get_values_for_type(x509.DNSName)}
    present |= {str(n) for n in names.get_values_for_type(x509.IPAddress)}
    return set(hosts) <= present


def self_signed(hosts: list[str], days: int = 30) -> tuple[bytes, bytes]:
    """A short-lived certificate for a workshop; browsers will ask to trust it once."""
    key = ec.generate_private_key(ec.SECP256R1())
    alt_names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alt_names.append(x509.DNSName(host))
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"devlab {hosts[0]}")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem
