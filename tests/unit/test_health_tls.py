"""HealthProbe's TLS context: one per process, built off the event loop, never for http://.
Real sockets on 127.0.0.1 (a tiny asyncio HTTP server, plain or TLS with a self-signed cert)."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
import threading

import pytest

import runners.health as health
from runners.health import HealthProbe

pytestmark = pytest.mark.timeout(30)

BODY = b'{"status": "healthy", "version": "1.0"}'
REPLY = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
         b"Content-Length: %d\r\n\r\n" % len(BODY)) + BODY


async def _serve(ssl_ctx: ssl.SSLContext | None = None):
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(REPLY)
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ssl_ctx)
    return server, server.sockets[0].getsockname()[1]


@pytest.fixture
def server_tls(tmp_path) -> ssl.SSLContext:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                         serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    return ctx


@pytest.fixture
def fresh_context(monkeypatch):
    """Forget any context built earlier in this process; record where each build ran."""
    monkeypatch.setattr(health, "_SSL_CONTEXT", None)
    built: list[str] = []
    real = ssl.create_default_context

    def spy(*args, **kwargs) -> ssl.SSLContext:
        built.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", spy)
    return built


async def test_plain_http_probe_loads_no_ca_bundle(fresh_context):
    server, port = await _serve()
    async with server:
        async with HealthProbe(f"http://127.0.0.1:{port}") as probe:
            report = await probe.check()
    assert report.status == "healthy", report.summary()
    assert report.version == "1.0"
    assert fresh_context == [] and health._SSL_CONTEXT is None


async def test_https_probes_share_one_context_built_off_the_loop(fresh_context, server_tls):
    server, port = await _serve(server_tls)
    async with server:
        probes = [HealthProbe(f"https://127.0.0.1:{port}", timeout=5) for _ in range(5)]
        try:
            reports = await asyncio.gather(*(p.check() for p in probes))
        finally:
            await asyncio.gather(*(p.aclose() for p in probes))
    assert len(fresh_context) == 1, fresh_context  # built once for all five
    assert fresh_context[0] != threading.main_thread().name  # in a worker thread, not on the loop
    assert isinstance(health._SSL_CONTEXT, ssl.SSLContext)
    # the shared context verifies: a self-signed certificate is refused, and said so
    for r in reports:
        assert r.status == "unreachable", r.summary()
        assert "CERTIFICATE_VERIFY_FAILED" in r.detail or "certificate verify failed" in r.detail, r.detail


async def test_closed_probe_refuses_to_check():
    probe = HealthProbe("https://127.0.0.1:1")
    await probe.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await probe.check()
