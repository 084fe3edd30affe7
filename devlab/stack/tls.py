"""The proxy's TLS certificate: the organiser's own, or a self-signed one devlab makes."""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from devlab.stack.settings import StackSettings


def install_tls(settings: StackSettings, hosts: list[str]) -> None:
    """Put cert.pem and key.pem (0600) in the state's tls directory for the proxy."""
    directory = settings.tls_dir
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    if settings.tls is None:
        return
    cert, key = directory / "cert.pem", directory / "key.pem"
    if settings.tls.cert is not None and settings.tls.key is not None:
        shutil.copyfile(settings.tls.cert, cert)
        shutil.copyfile(settings.tls.key, key)
    elif not _covers(cert, hosts):
        cert_pem, key_pem = self_signed(hosts)
        cert.write_bytes(cert_pem)
        key.write_bytes(key_pem)
    for path in (cert, key):
        os.chmod(path, 0o600)


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
