"""The proxy's certificate: keys private from the first byte, and the CLI's trust in it."""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import json
import os
import ssl
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from devlab.stack import secrets as secrets_module
from devlab.stack import users
from devlab.stack.envfile import compose_env, write_env_file
from devlab.stack.lifecycle import as_brought_up
from devlab.stack.secrets import ensure_secrets, write_private
from devlab.stack.settings import StackSettings, TlsChoice, resolve_settings
from devlab.stack.tls import hub_verify, install_tls, is_self_signed, self_signed

REPO = Path(__file__).resolve().parents[2]
HOSTS = ["localhost", "127.0.0.1"]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def stack(tmp_path: Path, port: int = 8443, **tls: str | bool) -> StackSettings:
    return resolve_settings(
        project_dir=str(REPO), env={"DEVLAB_STATE_DIR": str(tmp_path / "state")}, port=port, **tls
    )


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _certificate(
    subject: str, key: ec.EllipticCurvePrivateKey, issuer: str, signer: ec.EllipticCurvePrivateKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
    )


def ca_issued(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate it issued for 127.0.0.1: (ca, cert, key) files."""
    ca_key, key = _key(), _key()
    ca = (
        _certificate("test CA", ca_key, "test CA", ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        _certificate("workshop.example.org", key, "test CA", ca_key)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    paths = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(_pem(key))
    return paths


@pytest.fixture
def no_chmod(monkeypatch):
    """chmod does nothing: a file is private only if it was created or opened that way."""
    monkeypatch.setattr(os, "chmod", lambda *args, **kwargs: None)
    monkeypatch.setattr(Path, "chmod", lambda *args, **kwargs: None)
    old = os.umask(0o022)
    yield
    os.umask(old)


# -- keys are private from the first byte ------------------------------------------------


def test_generated_key_and_cert_are_created_0600(tmp_path, no_chmod):
    settings = stack(tmp_path, tls_self_signed=True)
    install_tls(settings, HOSTS)
    assert mode(settings.tls_dir / "key.pem") == 0o600
    assert mode(settings.tls_dir / "cert.pem") == 0o600


def test_organisers_key_copied_over_a_readable_file_ends_0600(tmp_path, no_chmod):
    _, cert, key = ca_issued(tmp_path / "organiser")
    key.chmod(0o644)
    settings = stack(tmp_path, tls_cert=str(cert), tls_key=str(key))
    settings.tls_dir.mkdir(parents=True)
    stale = settings.tls_dir / "key.pem"
    stale.write_bytes(b"an old key, once readable")
    stale.chmod(0o644)
    install_tls(settings, HOSTS)
    assert mode(stale) == 0o600
    assert stale.read_bytes() == key.read_bytes()


def test_no_byte_is_written_while_an_existing_file_is_readable(tmp_path, monkeypatch):
    path = tmp_path / "key.pem"
    path.write_bytes(b"old")
    path.chmod(0o644)
    modes_at_write: list[int] = []
    real_fdopen = os.fdopen

    class Spy:
        def __init__(self, fd: int, *args: object, **kwargs: object) -> None:
            self.fd, self.file = fd, real_fdopen(fd, *args, **kwargs)  # type: ignore[call-overload]

        def write(self, data: bytes) -> int:
            modes_at_write.append(stat.S_IMODE(os.fstat(self.fd).st_mode))
            return self.file.write(data)

        def __enter__(self) -> Spy:
            return self

        def __exit__(self, *exc: object) -> None:
            self.file.close()

    monkeypatch.setattr(secrets_module.os, "fdopen", Spy)
    write_private(path, b"secret key")
    assert modes_at_write == [0o600]
    assert path.read_bytes() == b"secret key"


# -- what the CLI trusts -----------------------------------------------------------------


def test_plain_http_and_ca_issued_certificates_use_the_system_cas(tmp_path):
    assert hub_verify(stack(tmp_path)) is True
    _, cert, key = ca_issued(tmp_path / "organiser")
    settings = stack(tmp_path, tls_cert=str(cert), tls_key=str(key))
    install_tls(settings, HOSTS)
    assert hub_verify(settings) is True


def test_a_self_signed_certificate_is_pinned(tmp_path):
    settings = stack(tmp_path, tls_self_signed=True)
    install_tls(settings, HOSTS)
    assert hub_verify(settings) == str(settings.tls_dir / "cert.pem")


def test_self_signed_means_signed_by_its_own_key(tmp_path):
    _, cert, _ = ca_issued(tmp_path)
    assert is_self_signed(self_signed(HOSTS)[0])
    assert not is_self_signed(cert.read_bytes())


@contextmanager
def https_hub(cert: Path, key: Path) -> Iterator[int]:
    """A stand-in for the proxy on 127.0.0.1 serving `cert`, answering `[]` to any GET."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps([]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def brought_up(settings: StackSettings) -> None:
    """What the CLI reads from a stack that `devlab up` prepared: its env file and token."""
    ensure_secrets(settings.secrets_dir)
    write_env_file(settings.env_file, {})


def test_the_cli_reaches_a_self_signed_hub_pinned(tmp_path):
    settings = stack(tmp_path, tls_self_signed=True)
    install_tls(settings, HOSTS)
    with https_hub(settings.tls_dir / "cert.pem", settings.tls_dir / "key.pem") as port:
        settings = stack(tmp_path, port, tls_self_signed=True)
        brought_up(settings)
        assert users.list_users(settings) == []


def test_the_cli_refuses_another_certificate_for_the_same_names(tmp_path):
    settings = stack(tmp_path, tls_self_signed=True)
    install_tls(settings, HOSTS)
    imposter_cert, imposter_key = self_signed(HOSTS)
    (tmp_path / "imposter.pem").write_bytes(imposter_cert)
    (tmp_path / "imposter-key.pem").write_bytes(imposter_key)
    with https_hub(tmp_path / "imposter.pem", tmp_path / "imposter-key.pem") as port:
        settings = stack(tmp_path, port, tls_self_signed=True)
        brought_up(settings)
        with pytest.raises(requests.exceptions.SSLError):
            users.list_users(settings)


def test_a_ca_issued_certificate_is_verified_not_waved_through(tmp_path, monkeypatch):
    ca, cert, key = ca_issued(tmp_path / "organiser")
    with https_hub(cert, key) as port:
        settings = stack(tmp_path, port, tls_cert=str(cert), tls_key=str(key))
        install_tls(settings, HOSTS)
        brought_up(settings)
        monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
        monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
        with pytest.raises(requests.exceptions.SSLError):
            users.list_users(settings)  # the test CA is not among the system's
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca))  # as if it were
        assert users.list_users(settings) == []


# -- later commands keep the TLS choice the stack was brought up with ---------------------


def bring_up(settings: StackSettings, tmp_path: Path) -> None:
    """What `devlab up` leaves behind for later commands: the certificate and compose.env."""
    install_tls(settings, HOSTS)
    values = compose_env(settings, images={}, ca_bundle=tmp_path / "ca.pem")
    write_env_file(settings.env_file, values)


def test_a_later_up_keeps_the_organisers_certificate(tmp_path):
    _, cert, key = ca_issued(tmp_path / "organiser")  # names 127.0.0.1 only, not localhost
    bring_up(stack(tmp_path, tls_cert=str(cert), tls_key=str(key)), tmp_path)
    again = as_brought_up(stack(tmp_path))
    assert again.tls == TlsChoice(again.tls_dir / "cert.pem", again.tls_dir / "key.pem")
    install_tls(again, HOSTS)  # an `up` from these settings, as the pytest plugin's reuse
    assert (again.tls_dir / "cert.pem").read_bytes() == cert.read_bytes()
    assert (again.tls_dir / "key.pem").read_bytes() == key.read_bytes()


@pytest.mark.parametrize(
    ("options", "expected"), [({"tls_self_signed": True}, TlsChoice()), ({}, None)]
)
def test_self_signed_and_plain_http_are_brought_up_as_they_were(tmp_path, options, expected):
    bring_up(stack(tmp_path, **options), tmp_path)
    assert as_brought_up(stack(tmp_path)).tls == expected
