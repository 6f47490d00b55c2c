"""`make lint`'s dependency audit (scripts/audit.py around pip-audit) against a loopback stand-in for PyPI's JSON API.

The vulnerability database is an outside service this build machine cannot reach (pypi.org answers 404 for the
per-version JSON pip-audit reads, api.osv.dev is unreachable: docs/security.md), so the real pip-audit of .venv-tools
is pointed at a fake that speaks that API's wire format: an HTTPS proxy on loopback that terminates the CONNECT to
pypi.org:443 with a certificate from a test CA (trusted through REQUESTS_CA_BUNDLE) and answers
`GET /pypi/<name>/<version>/json` from a table. What is checked is what the audit must do with real answers: fail on a
known vulnerability, accept one listed with its reason in the ignore file, skip withdrawn advisories, and say (and with
AUDIT_STRICT=1 fail) when packages could not be looked up at all.
"""

from __future__ import annotations

import datetime
import json
import os
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.fakes.loopback import LoopbackServer

ROOT = Path(__file__).resolve().parents[2]
PIP_AUDIT = ROOT / ".venv-tools" / "bin" / "pip-audit"

ADVISORY = {
    "id": "GHSA-test-0001-aaaa",
    "aliases": ["CVE-2099-0001"],
    "summary": "sandbox escape in the template engine",
    "fixed_in": ["2.10.1"],
    "link": "https://example.com/advisory",
    "withdrawn": None,
}
WITHDRAWN = {**ADVISORY, "id": "GHSA-test-0002-bbbb", "aliases": [], "withdrawn": "2099-01-01T00:00:00Z"}
PACKAGES: dict[tuple[str, str], dict] = {
    ("jinja2", "2.10"): {"info": {"name": "Jinja2", "version": "2.10"}, "vulnerabilities": [ADVISORY]},
    ("six", "1.16.0"): {"info": {"name": "six", "version": "1.16.0"}, "vulnerabilities": []},
    ("idna", "3.4"): {"info": {"name": "idna", "version": "3.4"}, "vulnerabilities": [WITHDRAWN]},
}  # anything else: 404, as pypi.org answers for a release it does not know


def certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A test CA and a certificate for pypi.org signed by it: (CA file, certificate file, key file)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "shopcare test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pypi.org")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("pypi.org")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    files = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    files[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return files


class FakePyPI(LoopbackServer):
    """An HTTPS proxy on loopback that answers PyPI's per-release JSON API itself instead of tunnelling."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls.load_cert_chain(cert, key)
        self.requests: list[str] = []
        super().__init__()

    @staticmethod
    def _head(conn: socket.socket | ssl.SSLSocket) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return b""
            data += chunk
        return data

    def serve(self, raw: socket.socket) -> None:
        try:
            connect = self._head(raw)
            if not connect.startswith(b"CONNECT pypi.org:443 "):
                raw.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                return
            raw.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            with self.tls.wrap_socket(raw, server_side=True) as conn:
                while request := self._head(conn):
                    path = request.split(b" ", 2)[1].decode()
                    self.requests.append(path)
                    parts = path.strip("/").split("/")  # pypi/<name>/<version>/json
                    found = PACKAGES.get((parts[1], parts[2])) if len(parts) == 4 and parts[0] == "pypi" else None
                    body = json.dumps(found or {"message": "Not Found"}).encode()
                    status = b"200 OK" if found else b"404 Not Found"
                    conn.sendall(
                        b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n"
                        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
                    )
        except (OSError, ssl.SSLError):
            pass
        finally:
            raw.close()


@pytest.fixture(scope="module")
def fake_pypi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakePyPI, dict[str, str]]]:
    if not PIP_AUDIT.exists():
        pytest.skip("pip-audit is not installed: run `make tools` (it builds .venv-tools)")
    folder = tmp_path_factory.mktemp("fake_pypi")
    ca, cert, key = certificates(folder)
    server = FakePyPI(cert, key)
    env = {
        **os.environ,
        "HTTPS_PROXY": f"http://127.0.0.1:{server.port}",
        "https_proxy": f"http://127.0.0.1:{server.port}",
        "NO_PROXY": "",
        "no_proxy": "",
        "REQUESTS_CA_BUNDLE": str(ca),
        "XDG_CACHE_HOME": str(folder / "cache"),  # pip-audit's HTTP cache: never answers from a previous run
    }
    env.pop("AUDIT_STRICT", None)
    try:
        yield server, env
    finally:
        server.close()


def audit(env: dict[str, str], tmp_path: Path, pins: list[str], ignores: str = "") -> subprocess.CompletedProcess:
    requirements, ignore_file = tmp_path / "requirements.txt", tmp_path / "ignore.txt"
    requirements.write_text("".join(f"{pin}\n" for pin in pins))
    ignore_file.write_text(ignores)
    cmd = [sys.executable, str(ROOT / "scripts" / "audit.py"), "--requirements", str(requirements)]
    cmd += ["--ignore-file", str(ignore_file)]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


def test_a_known_vulnerability_fails_the_audit(fake_pypi: tuple[FakePyPI, dict[str, str]], tmp_path: Path) -> None:
    server, env = fake_pypi
    done = audit(env, tmp_path, ["jinja2==2.10", "six==1.16.0", "idna==3.4"])
    assert done.returncode == 1, done.stdout + done.stderr
    assert "3 of 3 pinned packages audited" in done.stdout
    finding = next(line for line in done.stdout.splitlines() if "VULNERABLE" in line)
    assert finding.startswith("[audit] VULNERABLE jinja2==2.10: CVE-2099-0001 (GHSA-test-0001-aaaa), fixed in 2.10.1")
    assert "GHSA-test-0002" not in done.stdout  # withdrawn advisories are not findings
    assert {"/pypi/jinja2/2.10/json", "/pypi/six/1.16.0/json", "/pypi/idna/3.4/json"} <= set(server.requests)


def test_a_documented_ignore_passes(fake_pypi: tuple[FakePyPI, dict[str, str]], tmp_path: Path) -> None:
    _, env = fake_pypi
    ignores = (
        "# accepted\nGHSA-test-0001-aaaa  only the sandboxed renderer is affected; we never render user templates\n"
    )
    done = audit(env, tmp_path, ["jinja2==2.10", "six==1.16.0"], ignores)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 of 2 pinned packages audited; 1 documented ignores" in done.stdout
    assert "VULNERABLE" not in done.stdout


def test_packages_that_cannot_be_looked_up_are_reported(
    fake_pypi: tuple[FakePyPI, dict[str, str]], tmp_path: Path
) -> None:
    _, env = fake_pypi
    done = audit(env, tmp_path, ["six==1.16.0", "not-on-the-index==1.0"])
    assert done.returncode == 0, done.stdout + done.stderr  # a warning on a machine that cannot look packages up
    assert "1 of 2 pinned packages audited" in done.stdout
    assert "1 packages could not be looked up" in done.stdout and "NOT audited" in done.stdout
    strict = audit({**env, "AUDIT_STRICT": "1"}, tmp_path, ["six==1.16.0", "not-on-the-index==1.0"])
    assert strict.returncode == 1
