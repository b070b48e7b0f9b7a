"""Alert sinks (pgaudit_kit.alerts.sinks) against local receivers: an HTTP server that checks the signature
and the content type, syslog receivers over UDP, TCP and TLS that parse every frame strictly, files. A sink
returns only once the record is delivered and raises DeliveryFailed otherwise; a bad [sink.NAME] table is a
SinkConfigError naming the option at fault."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import ipaddress
import json
import os
import queue
import re
import socket
import ssl
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pgaudit_kit.alerts.alert import Alert, Origin
from pgaudit_kit.alerts.sinks import (
    DeliveryFailed,
    Sink,
    SinkConfigError,
    StdoutSink,
    SyslogSink,
    WebhookSink,
    build_sink,
)
from pgaudit_kit.core.errors import EXIT_USAGE, UsageError
from pgaudit_kit.review.events import Event, RawJson, SealStatus

WHEN = datetime(2026, 12, 7, 3, 14, 15, 926535, tzinfo=UTC)
SECRET = "s3cret-hmac-key-Ω"


def make_alert(event_id: int = 4711, rule: str = "schema change", severity: str = "high",
               sealed: bool = True, **event_changes: Any) -> Alert:
    event = Event(id=event_id, xid=90210, time=WHEN, op="S", relid=None, schema="public", table="accounts",
                  partition=None, pk=None, row_data={"command_tag": "ALTER TABLE"}, old_values=None,
                  statement="ALTER TABLE accounts ADD COLUMN note text", has_transaction=True, actor=None,
                  acting_role="admin", session_role="admin", context=RawJson('{"ticket": "OPS-12"}'),
                  context_raw=None, application_name="psql", client_addr="192.0.2.10", client_port=53122,
                  backend_pid=31337, xact_start=WHEN - timedelta(seconds=1),
                  seal=SealStatus("sealed", 1200 + event_id, 7) if sealed else SealStatus("pending"))
    for name, value in event_changes.items():
        setattr(event, name, value)
    return Alert(rule=rule, severity=severity, kind="ddl", summary=f"ALTER TABLE on public.accounts ({event_id})",
                 key=f"event:{event_id}:{rule}", time=WHEN, origin=Origin("install-1", "billing", "db1", 5432),
                 event=event.as_dict())


def health_alert() -> Alert:
    return Alert(rule="backlog", severity="critical", kind="health", summary="52000 events wait to be sealed",
                 key="health:backlog:2026-12-07T03:00:00Z", time=WHEN, origin=Origin("install-1", "billing"),
                 facts={"backlog_events": 52000})


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PGAUDIT_KIT_TEST_HOOK_SECRET", SECRET)
    return "PGAUDIT_KIT_TEST_HOOK_SECRET"


# -- configuration -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("options", "key", "needle"), [
    ({}, "type", "missing"),
    ({"type": "pager"}, "type", "one of stdout, file, webhook, syslog"),
    ({"type": "file", "path": "/tmp/x", "colour": "red"}, "colour", "unknown option"),
    ({"type": "file"}, "path", "missing"),
    ({"type": "stdout", "format": "xml"}, "format", "one of json, ocsf, ecs, cef"),
    ({"type": "webhook"}, "url", "missing"),
    ({"type": "webhook", "url": "ftp://example.com/x"}, "url", "not an http:// or https:// URL"),
    ({"type": "webhook", "url": "https://example.com", "secret_env": "PGAUDIT_KIT_TEST_UNSET"}, "secret_env",
     "PGAUDIT_KIT_TEST_UNSET is not set"),
    ({"type": "webhook", "url": "https://example.com", "timeout": -1}, "timeout", "not a number of seconds > 0"),
    ({"type": "webhook", "url": "https://example.com", "retries": True}, "retries", "not a whole number"),
    ({"type": "webhook", "url": "https://example.com", "retries": 11}, "retries", "from 0 to 10"),
    ({"type": "webhook", "url": "https://example.com", "headers": {"Content-Type": "x"}}, "headers",
     "set by the sink itself"),
    ({"type": "webhook", "url": "https://example.com", "headers": {"X-Team": "a\r\nInjected: 1"}}, "headers",
     "on one line"),
    ({"type": "webhook", "url": "http://example.com", "ca_file": __file__}, "ca_file", "https:// URLs only"),
    ({"type": "webhook", "url": "https://example.com", "ca_file": "/nonexistent.pem"}, "ca_file",
     "not a readable file"),
    ({"type": "syslog"}, "address", "missing"),
    ({"type": "syslog", "address": "siem.example.com"}, "address", '"host:port"'),
    ({"type": "syslog", "address": "siem:70000"}, "address", '"host:port"'),
    ({"type": "syslog", "address": "siem:514", "transport": "carrier-pigeon"}, "transport", "one of udp, tcp, tls"),
    ({"type": "syslog", "address": "siem:514", "facility": "cloud"}, "facility", "not a facility"),
    ({"type": "syslog", "address": "siem:514", "facility": 24}, "facility", "not a facility"),
    ({"type": "syslog", "address": "siem:514", "app_name": "pg audit"}, "app_name", "printable ASCII"),
    ({"type": "syslog", "address": "siem:514", "transport": "udp", "ca_file": __file__}, "ca_file",
     'transport = "tls" only'),
    ({"type": "syslog", "address": "siem:6514", "transport": "tls", "ca_file": __file__}, "ca_file",
     "cannot load CA certificates"),
])
def test_a_bad_table_names_the_option_at_fault(monkeypatch: pytest.MonkeyPatch, options: dict[str, Any], key: str,
                                                needle: str) -> None:
    monkeypatch.delenv("PGAUDIT_KIT_TEST_UNSET", raising=False)
    with pytest.raises(SinkConfigError) as caught:
        build_sink("siem", options)
    assert caught.value.key == key
    assert str(caught.value) == caught.value.message and caught.value.message.startswith(f"{key}: ")
    assert needle in caught.value.message
    assert isinstance(caught.value, UsageError) and caught.value.exit_code == EXIT_USAGE


def test_tables_that_build(tmp_path: Path, secret: str) -> None:
    sinks = [build_sink("out", {"type": "stdout"}),
             build_sink("file", {"type": "file", "path": str(tmp_path / "a.log"), "format": "cef"}),
             build_sink("hook", {"type": "webhook", "url": "https://hooks.example.com/x", "secret_env": secret,
                                 "timeout": 2, "retries": 0, "backoff": 0.1, "headers": {"X-Team": "dba"}}),
             build_sink("siem", {"type": "syslog", "address": "[::1]:6514", "transport": "tls",
                                 "facility": "local3", "app_name": "pgk", "hostname": "db1.example.com",
                                 "server_name": "siem.example.com"})]
    assert [(s.type, s.format) for s in sinks] == [("stdout", "json"), ("file", "cef"), ("webhook", "json"),
                                                   ("syslog", "json")]
    syslog = sinks[3]
    assert isinstance(syslog, SyslogSink) and (syslog.host, syslog.port, syslog.transport) == ("::1", 6514, "tls")
    assert SECRET not in repr(sinks[2])
    for sink in sinks:
        sink.close()


# -- stdout and file -------------------------------------------------------------------------------------------

def test_stdout_writes_one_flushed_line(capsys: pytest.CaptureFixture[str]) -> None:
    StdoutSink("out", "json").deliver(make_alert())
    out = capsys.readouterr().out
    assert out.endswith("\n") and len(out.splitlines()) == 1
    assert json.loads(out)["key"] == "event:4711:schema change"


def test_stdout_that_is_closed_fails_the_delivery() -> None:
    stream = open(os.devnull, "w")
    stream.close()
    with pytest.raises(DeliveryFailed, match="cannot write to standard output"):
        StdoutSink("out", "json", stream).deliver(make_alert())


def test_file_appends_fsynced_lines_and_survives_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    sink = build_sink("file", {"type": "file", "path": str(path)})
    sink.deliver(make_alert(1))
    sink.deliver(make_alert(2))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    sink.close()
    again = build_sink("file", {"type": "file", "path": str(path)})  # a restarted process
    again.deliver(make_alert(3))
    assert [json.loads(line)["event_id"] for line in path.read_text(encoding="utf-8").splitlines()] == [1, 2, 3]
    path.rename(tmp_path / "alerts.jsonl.1")  # rotated away: the next line goes to a new file at the path
    again.deliver(make_alert(4))
    assert [json.loads(line)["event_id"] for line in path.read_text(encoding="utf-8").splitlines()] == [4]
    again.close()


def test_file_that_cannot_be_written_fails_the_delivery(tmp_path: Path) -> None:
    sink = build_sink("file", {"type": "file", "path": str(tmp_path / "missing" / "alerts.jsonl")})
    with pytest.raises(DeliveryFailed, match="cannot append to"):
        sink.deliver(make_alert())
    (tmp_path / "missing").mkdir()
    sink.deliver(make_alert())  # the next delivery tries again
    assert (tmp_path / "missing" / "alerts.jsonl").read_text(encoding="utf-8").count("\n") == 1


# -- webhook ---------------------------------------------------------------------------------------------------

@dataclass
class Hook:
    """What the local webhook receiver answers (statuses in turn, the last one repeated) and what it saw."""

    statuses: list[int] = field(default_factory=lambda: [200])
    delay: float = 0.0
    secret: bytes = SECRET.encode("utf-8")
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)


class HookHandler(http.server.BaseHTTPRequestHandler):
    hook: Hook

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.hook.requests.append((headers, body))
        if self.hook.delay:
            self.hook.stop.wait(self.hook.delay)
        expected = "sha256=" + hmac.new(self.hook.secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(headers.get("x-pgaudit-kit-signature", ""), expected):
            status = 401
        elif headers.get("content-type") not in ("application/json; charset=utf-8", "text/plain; charset=utf-8"):
            status = 415
        else:
            statuses = self.hook.statuses
            status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[tuple[Hook, str]]:
    state = Hook()
    handler = type("Handler", (HookHandler,), {"hook": state})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}"
    state.stop.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def https_hook(pki: Pki) -> Iterator[tuple[Hook, str]]:
    state = Hook()
    handler = type("Handler", (HookHandler,), {"hook": state})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state, f"https://localhost:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def webhook(url: str, secret: str, **options: Any) -> Sink:
    return build_sink("hook", {"type": "webhook", "url": url, "secret_env": secret, "timeout": 2, "backoff": 0.01,
                               **options})


@pytest.mark.parametrize(("fmt", "media"), [("json", "application/json"), ("cef", "text/plain")])
def test_webhook_posts_the_signed_record(hook: tuple[Hook, str], secret: str, fmt: str, media: str) -> None:
    state, url = hook
    sink = webhook(url + "/pgaudit", secret, format=fmt, headers={"X-Team": "dba"})
    sink.deliver(make_alert(rule="schema change ü"))
    (headers, body), = state.requests
    assert headers["content-type"] == f"{media}; charset=utf-8" and headers["x-team"] == "dba"
    assert headers["x-pgaudit-kit-key"] == "event:4711:schema%20change%20%C3%BC"  # percent-encoded where not ASCII
    assert headers["x-pgaudit-kit-event-id"] == "4711"
    assert headers["user-agent"].startswith("pgaudit-kit/")
    if fmt == "json":
        assert json.loads(body)["key"] == "event:4711:schema change ü"
    else:
        assert body.startswith(b"CEF:0|pgaudit-kit|")
    sink.close()


def test_webhook_health_alert_has_no_event_id_header(hook: tuple[Hook, str], secret: str) -> None:
    state, url = hook
    webhook(url, secret).deliver(health_alert())
    (headers, _), = state.requests
    assert "x-pgaudit-kit-event-id" not in headers and headers["x-pgaudit-kit-key"] == "health:backlog:" \
                                                                                     "2026-12-07T03:00:00Z"


def test_webhook_retries_after_503s_then_succeeds(hook: tuple[Hook, str], secret: str) -> None:
    state, url = hook
    state.statuses = [503, 503, 200]
    webhook(url, secret, retries=3).deliver(make_alert())
    assert len(state.requests) == 3 and len({body for _, body in state.requests}) == 1


def test_webhook_that_keeps_failing_names_the_status(hook: tuple[Hook, str], secret: str) -> None:
    state, url = hook
    state.statuses = [500]
    with pytest.raises(DeliveryFailed, match="HTTP 500"):
        webhook(url, secret, retries=2).deliver(make_alert())
    assert len(state.requests) == 3  # the first try and two retries


def test_webhook_does_not_retry_a_refusal(hook: tuple[Hook, str], monkeypatch: pytest.MonkeyPatch) -> None:
    state, url = hook
    monkeypatch.setenv("PGAUDIT_KIT_TEST_WRONG_SECRET", "not the receiver's key")
    with pytest.raises(DeliveryFailed, match="HTTP 401"):
        webhook(url, "PGAUDIT_KIT_TEST_WRONG_SECRET").deliver(make_alert())
    assert len(state.requests) == 1


def test_webhook_that_times_out_fails(hook: tuple[Hook, str], secret: str) -> None:
    state, url = hook
    state.delay = 2.0
    started = time.monotonic()
    with pytest.raises(DeliveryFailed, match="timed out"):
        webhook(url, secret, timeout=0.2, retries=1, backoff=0).deliver(make_alert())
    assert time.monotonic() - started < 1.5 and len(state.requests) == 2


def test_webhook_failures_do_not_show_the_secret_or_the_path(secret: str) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = webhook(f"http://user:pa55@127.0.0.1:{port}/hooks/T0KEN-abc?sig=QQQ", secret, retries=1, backoff=0)
    with pytest.raises(DeliveryFailed) as caught:
        sink.deliver(make_alert())
    message = str(caught.value)
    assert f"http://127.0.0.1:{port}" in message and caught.value.__cause__ is None
    assert not any(s in message for s in ("T0KEN", "QQQ", "pa55", SECRET))


def test_webhook_over_https_verifies_the_receiver(https_hook: tuple[Hook, str], secret: str, pki: Pki) -> None:
    state, url = https_hook
    webhook(url, secret, ca_file=str(pki.ca)).deliver(make_alert())
    assert len(state.requests) == 1
    # the system's trust store does not know the test CA: refused, and not retried into success
    with pytest.raises(DeliveryFailed, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        webhook(url, secret, retries=0).deliver(make_alert())
    assert len(state.requests) == 1


def test_webhook_signature_is_the_hmac_of_the_body(secret: str) -> None:
    sink = webhook("https://hooks.example.com/x", secret)
    assert isinstance(sink, WebhookSink)
    assert sink.signature(b"{}") == "sha256=" + hmac.new(SECRET.encode(), b"{}", hashlib.sha256).hexdigest()


# -- syslog ----------------------------------------------------------------------------------------------------

HEADER = re.compile(r"<(?P<pri>[0-9]{1,3})>1 (?P<timestamp>[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
                    r"(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})) (?P<hostname>[\x21-\x7e]{1,255}) "
                    r"(?P<app_name>[\x21-\x7e]{1,48}) (?P<procid>[\x21-\x7e]{1,128}) (?P<msgid>[\x21-\x7e]{1,32}) ")
SD_NAME = re.compile(r'[\x21-\x7e]{1,32}', re.ASCII)


@dataclass
class Syslog:
    pri: int
    timestamp: str
    hostname: str
    app_name: str
    procid: str
    msgid: str
    sd: dict[str, dict[str, str]]
    msg: str


def parse_syslog(data: bytes) -> Syslog:
    """A strict RFC 5424 reader: header, structured data with escapes (\\", \\\\, \\] only), BOM, message."""
    text = data.decode("utf-8")  # strictly UTF-8
    header = HEADER.match(text)
    assert header, text[:200]
    pos, sd = header.end(), {}
    assert text[pos] == "[", "structured data expected"
    while pos < len(text) and text[pos] == "[":
        end = pos + 1
        while text[end] not in " ]":
            end += 1
        sd_id, pos, params = text[pos + 1:end], end, {}
        assert SD_NAME.fullmatch(sd_id) and not set(sd_id) & set('= "]')
        while text[pos] == " ":
            eq = text.index("=", pos)
            name = text[pos + 1:eq]
            assert SD_NAME.fullmatch(name) and not set(name) & set('= "]'), name
            assert text[eq + 1] == '"'
            pos, value = eq + 2, []
            while text[pos] != '"':
                assert text[pos] != "]", "a ']' in a value must be escaped"
                if text[pos] == "\\":
                    assert text[pos + 1] in '"\\]', "bad SD escape"
                    pos += 1
                value.append(text[pos])
                pos += 1
            assert name not in params
            params[name] = "".join(value)
            pos += 1
        assert text[pos] == "]"
        sd[sd_id] = params
        pos += 1
    assert text[pos:pos + 2] == " \ufeff", "SP BOM before the message"
    return Syslog(int(header["pri"]), header["timestamp"], header["hostname"], header["app_name"],
                  header["procid"], header["msgid"], sd, text[pos + 2:])


def read_frames(conn: socket.socket) -> Iterator[bytes]:
    """RFC 6587 octet counting, strictly: MSG-LEN (no leading zero) SP MSG, back to back."""
    buffer = b""
    while True:
        while b" " not in buffer:
            assert len(buffer) < 10, "no octet count"
            chunk = conn.recv(65536)
            if not chunk:
                assert not buffer, "a frame cut short"
                return
            buffer += chunk
        count, _, buffer = buffer.partition(b" ")
        assert re.fullmatch(rb"[1-9][0-9]{0,8}", count), count
        while len(buffer) < int(count):
            chunk = conn.recv(65536)
            assert chunk, "a frame cut short"
            buffer += chunk
        yield buffer[:int(count)]
        buffer = buffer[int(count):]


class StreamReceiver:
    """A syslog receiver over TCP, or TLS with *tls*: each frame parsed strictly, in ``messages``."""

    def __init__(self, port: int = 0, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        self.listener = socket.create_server(("127.0.0.1", port))  # SO_REUSEADDR: a restart gets the port back
        self.listener.settimeout(0.05)
        self.port = self.listener.getsockname()[1]
        self.messages: queue.Queue[Syslog] = queue.Queue()
        self.errors: list[BaseException] = []
        self.peers: list[dict[str, Any] | None] = []
        self.connections: list[socket.socket] = []
        self.stopping = threading.Event()
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(5)
            if self.tls is not None:
                try:
                    conn = self.tls.wrap_socket(conn, server_side=True)
                except (ssl.SSLError, OSError) as exc:
                    self.errors.append(exc)
                    conn.close()
                    continue
                self.peers.append(conn.getpeercert())
            self.connections.append(conn)
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        try:
            for frame in read_frames(conn):
                self.messages.put(parse_syslog(frame))
        except Exception as exc:
            if not self.stopping.is_set():
                self.errors.append(exc)

    def get(self) -> Syslog:
        return self.messages.get(timeout=5)

    def stop(self) -> None:
        self.stopping.set()
        # the listening socket lives on while a thread waits in accept() on it: let that return first, so the
        # port is free for a restart
        self.acceptor.join()
        self.listener.close()
        for conn in self.connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()


@dataclass
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _issue(path: Path, stem: str, subject: str, issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
           usage: x509.ObjectIdentifier | None = None) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    signer_cert, signer_key = issuer if issuer else (None, key)
    now = datetime.now(UTC)
    builder = (x509.CertificateBuilder().subject_name(_name(subject))
               .issuer_name(signer_cert.subject if signer_cert else _name(subject))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()),
                              critical=False))
    if usage is None:  # the CA
        builder = (builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                                key_encipherment=False, data_encipherment=False, key_agreement=False,
                                                key_cert_sign=True, crl_sign=True, encipher_only=False,
                                                decipher_only=False), critical=True))
    else:
        builder = (builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                               x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                  critical=False))
    cert = builder.sign(signer_key, hashes.SHA256())
    (path / f"{stem}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (path / f"{stem}.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                         serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    return cert, key


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    path = tmp_path_factory.mktemp("pki")
    ca = _issue(path, "ca", "pgaudit-kit test CA", None)
    _issue(path, "server", "localhost", ca, ExtendedKeyUsageOID.SERVER_AUTH)
    _issue(path, "client", "alerts", ca, ExtendedKeyUsageOID.CLIENT_AUTH)
    return Pki(path / "ca.crt", path / "server.crt", path / "server.key", path / "client.crt", path / "client.key")


def server_context(pki: Pki) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    context.load_verify_locations(pki.ca)
    context.verify_mode = ssl.CERT_REQUIRED  # the client must show its certificate
    return context


def syslog_sink(port: int, transport: str, pki: Pki | None = None, **options: Any) -> Sink:
    table: dict[str, Any] = {"type": "syslog", "address": f"127.0.0.1:{port}", "transport": transport,
                             "hostname": "db1.example.com", "timeout": 2, **options}
    if transport == "tls" and pki is not None:
        table.update(ca_file=str(pki.ca), cert_file=str(pki.client_cert), key_file=str(pki.client_key),
                     server_name="localhost")
    return build_sink("siem", table)


def check_message(message: Syslog, alert: Alert) -> None:
    assert message.pri == 10 * 8 + {"critical": 2, "high": 3, "medium": 4, "low": 5, "info": 6}[alert.severity]
    assert (message.hostname, message.app_name, message.msgid) == ("db1.example.com", "pgaudit-kit", alert.kind)
    assert message.procid == str(os.getpid()) and message.timestamp == "2026-12-07T03:14:15.926535Z"
    params = message.sd["alert@32473"]
    assert params["key"] == alert.key and params["rule"] == alert.rule and params["severity"] == alert.severity
    if alert.event_id is not None:
        assert params["event_id"] == str(alert.event_id)
    seal = alert.seal or {}
    if seal.get("status") == "sealed":
        assert (params["seq"], params["block"]) == (str(seal["seq"]), str(seal["block"]))
    else:
        assert "seq" not in params and "block" not in params
    assert json.loads(message.msg)["key"] == alert.key


def test_syslog_over_udp_one_datagram_per_alert() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(5)
        sink = syslog_sink(receiver.getsockname()[1], "udp")
        alerts = [make_alert(1), make_alert(2, sealed=False, rule='odd "rule" \\ with ] brackets'), health_alert()]
        for alert in alerts:
            sink.deliver(alert)
        for alert in alerts:
            check_message(parse_syslog(receiver.recv(65536)), alert)
        sink.close()


def test_syslog_over_udp_cuts_a_record_too_large_for_a_datagram() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(5)
        receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sink = syslog_sink(receiver.getsockname()[1], "udp")
        sink.deliver(make_alert(statement="ü" * 100_000))
        datagram = receiver.recv(1 << 17)
        assert len(datagram) <= 65507
        message = parse_syslog(datagram)  # still UTF-8: cut at a character boundary
        assert message.sd["alert@32473"]["key"] == "event:4711:schema change" and message.msg.startswith("{")
        sink.close()


@pytest.mark.parametrize("transport", ["tcp", "tls"])
def test_syslog_over_a_stream_with_a_receiver_restarted_mid_stream(transport: str, pki: Pki) -> None:
    tls = server_context(pki) if transport == "tls" else None
    receiver = StreamReceiver(tls=tls)
    sink = syslog_sink(receiver.port, transport, pki)
    try:
        first = [make_alert(1), health_alert()]
        for alert in first:
            sink.deliver(alert)
        for alert in first:
            check_message(receiver.get(), alert)
        assert len(receiver.connections) == 1  # a live connection is kept (TLS 1.3 tickets do not fool the check)
        receiver.stop()  # the receiver restarts: the sink's connection is closed under it
        receiver = StreamReceiver(receiver.port, tls)
        later = [make_alert(2), make_alert(3, sealed=False)]
        for alert in later:
            sink.deliver(alert)
        for alert in later:
            check_message(receiver.get(), alert)
        assert receiver.errors == [] and len(receiver.connections) == 1
        if tls is not None:
            assert receiver.peers and all(peer and dict(p[0] for p in peer["subject"])["commonName"] == "alerts"
                                          for peer in receiver.peers)  # the client certificate was shown
    finally:
        sink.close()
        receiver.stop()


def test_syslog_while_the_receiver_is_down_fails_then_recovers() -> None:
    receiver = StreamReceiver()
    port = receiver.port
    receiver.stop()
    sink = syslog_sink(port, "tcp")
    with pytest.raises(DeliveryFailed, match=f"syslog over tcp to 127.0.0.1:{port}"):
        sink.deliver(make_alert(1))
    receiver = StreamReceiver(port)
    try:
        sink.deliver(make_alert(1))  # the same alert again, as the engine retries it
        check_message(receiver.get(), make_alert(1))
    finally:
        sink.close()
        receiver.stop()


def test_syslog_over_tls_verifies_the_receiver(pki: Pki) -> None:
    receiver = StreamReceiver(tls=server_context(pki))
    try:
        # no ca_file: the system's trust store, which does not know the test CA
        sink = syslog_sink(receiver.port, "tls", None, cert_file=str(pki.client_cert), key_file=str(pki.client_key))
        with pytest.raises(DeliveryFailed, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
            sink.deliver(make_alert())
        assert receiver.messages.empty()
    finally:
        receiver.stop()


@pytest.mark.parametrize("message", [
    '<83>1 2026-12-07T03:14:15Z host app 1 ddl [alert@32473 key="a]b"] \ufeff{}',  # ']' unescaped in a value
    '<83>1 2026-12-07T03:14:15Z host app 1 ddl [alert@32473 key="a\\nb"] \ufeff{}',  # an undefined escape
    '<83>1 2026-12-07 03:14:15Z host app 1 ddl [alert@32473 key="a"] \ufeff{}',  # not an RFC 3339 time
    '<83>1 2026-12-07T03:14:15Z host app 1 ddl [alert@32473 key="a"] {}',  # no BOM
    '<83>1 2026-12-07T03:14:15Z host app 1 ddl - \ufeff{}',  # no structured data
])
def test_the_strict_syslog_reader_refuses_malformed_messages(message: str) -> None:
    with pytest.raises(AssertionError):
        parse_syslog(message.encode("utf-8"))


def test_syslog_frame_is_octet_counted() -> None:
    sink = syslog_sink(514, "tcp", facility="local0")
    assert isinstance(sink, SyslogSink)
    alert = make_alert(rule="ünïcode rule")
    frame = sink.frame(alert)
    count, _, message = frame.partition(b" ")
    assert int(count) == len(message) and message.startswith(b"<131>1 ")  # local0 (16) * 8 + error (3)
    assert parse_syslog(message).sd["alert@32473"]["rule"] == "ünïcode rule"
