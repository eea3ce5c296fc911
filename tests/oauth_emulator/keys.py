"""Keys for the token emulator: its TLS certificate (msal insists on https), its token signing
key, and helpers that make app certificates for client-assertion tests."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def self_signed(key: rsa.RSAPrivateKey, common_name: str, *, ip: str | None = None) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30)))
    if ip is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip)), x509.DNSName("localhost")]),
            critical=False).add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    return builder.sign(key, hashes.SHA256())


def key_pem(key: rsa.RSAPrivateKey, passphrase: str | None = None) -> str:
    enc: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode()) if passphrase else serialization.NoEncryption())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc).decode()


def cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def thumbprints(cert: x509.Certificate) -> tuple[str, str]:
    """(x5t, x5t#S256) as they appear in a JWT header."""
    return b64url(cert.fingerprint(hashes.SHA1())), b64url(cert.fingerprint(hashes.SHA256()))


@dataclass(frozen=True)
class AppCertificate:
    """A certificate for an app registration: ``pem_file`` holds key + certificate (what
    ``--certificate`` points at); ``certificate`` is the public part to register."""

    certificate: x509.Certificate
    pem_file: Path


def make_app_certificate(folder: Path, name: str = "cirahub-app", passphrase: str | None = None) -> AppCertificate:
    key = new_key()
    cert = self_signed(key, name)
    path = Path(folder) / f"{name}.pem"
    path.write_text(key_pem(key, passphrase) + cert_pem(cert))
    path.chmod(0o600)
    return AppCertificate(cert, path)


@dataclass(frozen=True)
class TlsIdentity:
    """The emulator's TLS certificate and key files; ``ca_file`` is what clients trust."""

    cert_file: Path
    key_file: Path

    @property
    def ca_file(self) -> Path:
        return self.cert_file


def tls_identity() -> TlsIdentity:
    folder = Path(tempfile.mkdtemp(prefix="oauth-emulator-"))
    key = new_key()
    cert = self_signed(key, "127.0.0.1", ip="127.0.0.1")
    (folder / "cert.pem").write_text(cert_pem(cert))
    (folder / "key.pem").write_text(key_pem(key))
    return TlsIdentity(folder / "cert.pem", folder / "key.pem")
