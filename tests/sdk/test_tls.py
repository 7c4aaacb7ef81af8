"""HTTPS: both transports verify the server's certificate (trusting SSL_CERT_FILE)."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from outbound import AsyncClient, Client, TransportError

from .conftest import OK_TOKEN, Scripted, Twin, close, serve_scripted


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for localhost, made for this run."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def https(certificate: tuple[Path, Path]) -> Iterator[Scripted]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    with serve_scripted(context) as state:
        yield state


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_https_with_a_trusted_certificate(
    mode: str, https: Scripted, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    cls = AsyncClient if mode == "async" else Client
    client = cls("P1", "key-for-tls", https.url)
    try:
        for _ in range(2):
            assert await Twin(mode, client).call("fetch_token", "app", "user") == OK_TOKEN
    finally:
        await close(client)
    assert len(https.peers) == 1


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_https_with_an_untrusted_certificate_fails(mode: str, https: Scripted) -> None:
    cls = AsyncClient if mode == "async" else Client
    client = cls("P1", "key-for-tls", https.url)
    try:
        with pytest.raises(TransportError) as caught:
            await Twin(mode, client).call("fetch_token", "app", "user")
    finally:
        await close(client)
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)
    assert https.seen == []
