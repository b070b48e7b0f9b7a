"""Where alerts go: standard output, a file, a webhook (HTTP POST) or a syslog server (RFC 5424).

A sink is built from one ``[sink.NAME]`` table of the rules file (:func:`build_sink`); a wrong table is a
:class:`SinkConfigError` naming the option at fault. ``deliver`` returns only once the record is delivered:

* stdout: the line written and flushed;
* file: the line appended and fsynced (a new file is created 0600, its directory fsynced);
* webhook: a 2xx answer to the POST, after the sink's own retries (429 and 5xx answers, connection errors);
* syslog: the frame sent over the TCP or TLS connection (syslog has no acknowledgement: a receiver that dies
  with the frame in its socket buffer loses it), or the datagram sent for UDP (which may be lost unseen).

Otherwise ``deliver`` raises :class:`DeliveryFailed`; the alerts engine keeps its position and delivers again
later, so delivery is at least once and a receiver de-duplicates on the alert key (sent with every record).

Every sink has a ``format`` (see :mod:`.formats`); the default is ``json`` for all of them, syslog included:
the kit's record is the lossless one, and the syslog structured data carries what receivers index (key,
event id, seq, rule, severity) whatever the format. Syslog defaults to ``transport = "tcp"`` (a refused or
broken connection is seen and retried; UDP loses records silently, so it must be chosen knowingly) and to
``facility = "authpriv"`` (see FACILITIES). Sinks are used from one thread. Nothing here logs, and no
message names a secret: webhook URLs are shown as scheme://host:port only (paths often hold tokens).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import select
import socket
import ssl
import stat
import sys
import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TextIO

from .. import __version__
from ..core.errors import UsageError
from . import formats
from .alert import SEVERITIES, Alert

if TYPE_CHECKING:
    import urllib3

SINK_TYPES = ("stdout", "file", "webhook", "syslog")
DEFAULT_FORMAT = "json"
TRANSPORTS = ("udp", "tcp", "tls")

_COMMON_KEYS = ("type", "format")
_KEYS = {
    "stdout": (),
    "file": ("path",),
    "webhook": ("url", "secret_env", "timeout", "retries", "backoff", "headers", "ca_file"),
    "syslog": ("address", "transport", "facility", "app_name", "hostname", "timeout", "ca_file", "cert_file",
               "key_file", "server_name"),
}


class SinkConfigError(UsageError):
    """A ``[sink.NAME]`` table is wrong. ``key`` is the option at fault (None: the table as a whole), so that
    the rules loader can point at its line; ``message`` says what is wrong, starting with the option's name
    (the loader adds the file, the line and the sink)."""

    def __init__(self, key: str | None, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


class DeliveryFailed(Exception):
    """A record was not delivered after the sink's own retries. Not a KitError: the alerts engine catches it,
    keeps its position and tries again later. ``sink`` is the sink's name."""

    def __init__(self, sink: str, message: str) -> None:
        super().__init__(f"sink {sink}: {message}")
        self.sink = sink


class Sink(ABC):
    """One configured destination. ``deliver`` returns once the record is delivered (see the module) or raises
    DeliveryFailed; ``close`` releases files and connections (a later ``deliver`` opens them again)."""

    type = ""

    def __init__(self, name: str, fmt: str) -> None:
        self.name = name
        self.format = fmt

    def render(self, alert: Alert) -> str:
        return formats.render(alert, self.format)

    @abstractmethod
    def deliver(self, alert: Alert) -> None: ...

    def close(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} format={self.format}>"


def build_sink(name: str, options: Mapping[str, Any]) -> Sink:
    """The sink described by the ``[sink.NAME]`` table *options* (TOML already parsed).

    Raises SinkConfigError (key = the option at fault) for an unknown option, a missing one, a value of the
    wrong type or out of range, an unreadable certificate, or a webhook secret variable that is not set."""
    reader = _Options(options)
    sink_type = reader.choice("type", SINK_TYPES, None)
    reader.reject_unknown(_COMMON_KEYS + _KEYS[sink_type])
    fmt = reader.choice("format", formats.FORMATS, DEFAULT_FORMAT)
    if sink_type == "stdout":
        return StdoutSink(name, fmt)
    if sink_type == "file":
        return FileSink(name, fmt, reader.path("path", required=True) or "")
    if sink_type == "webhook":
        return _build_webhook(name, fmt, reader)
    return _build_syslog(name, fmt, reader)


# -- option parsing ------------------------------------------------------------------------------------------

class _Options:
    """Typed reads of one sink table; every error names the option."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.options = options

    def error(self, key: str | None, message: str) -> SinkConfigError:
        return SinkConfigError(key, f"{key}: {message}" if key else message)

    def reject_unknown(self, known: tuple[str, ...]) -> None:
        for key in self.options:
            if key not in known:
                raise self.error(key, f"unknown option (a {self.options['type']} sink takes {', '.join(known)})")

    def typed(self, key: str, kind: type | tuple[type, ...], what: str, required: bool) -> Any:
        if key not in self.options:
            if required:
                raise self.error(key, f"missing: give {what}")
            return None
        value = self.options[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        # TOML's true is an int to isinstance(); a boolean is only right where one is asked for
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise self.error(key, f"{_shown(value)} is not {what}")
        return value

    def string(self, key: str, what: str = "a string", required: bool = False) -> str | None:
        value: str | None = self.typed(key, str, what, required)
        if value is not None and (not value or "\x00" in value):
            raise self.error(key, f"{_shown(value)} is not {what}")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str | None) -> str:
        what = "one of " + ", ".join(choices)
        value = self.string(key, what, required=default is None)
        if value is None:
            return default or ""
        if value not in choices:
            raise self.error(key, f"{_shown(value)} is not {what}")
        return value

    def path(self, key: str, required: bool = False) -> str | None:
        value = self.string(key, "a file path", required)
        return os.path.expanduser(value) if value is not None else None

    def number(self, key: str, default: float, minimum: float, positive: bool = False) -> float:
        what = f"a number of seconds {'> 0' if positive else f'>= {minimum:g}'}"
        value = self.typed(key, (int, float), what, False)
        if value is None:
            return default
        if value != value or value in (float("inf"), float("-inf")) or value < minimum or positive and value <= 0:
            raise self.error(key, f"{_shown(value)} is not {what}")
        return float(value)

    def integer(self, key: str, default: int, minimum: int, maximum: int) -> int:
        what = f"a whole number from {minimum} to {maximum}"
        value = self.typed(key, int, what, False)
        if value is None:
            return default
        if not minimum <= value <= maximum:
            raise self.error(key, f"{value} is not {what}")
        return int(value)

    def file(self, key: str) -> str | None:
        path = self.path(key)
        if path is not None and not os.path.isfile(path):
            raise self.error(key, f"{_shown(path)} is not a readable file")
        return path


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# -- stdout ----------------------------------------------------------------------------------------------------

class StdoutSink(Sink):
    """Each record as one line on standard output (UTF-8 whatever the locale), flushed."""

    type = "stdout"

    def __init__(self, name: str, fmt: str, stream: TextIO | None = None) -> None:
        super().__init__(name, fmt)
        self._stream = stream

    def deliver(self, alert: Alert) -> None:
        line = self.render(alert) + "\n"
        stream = self._stream or sys.stdout  # looked up now: whoever replaced sys.stdout meant it
        try:
            raw = getattr(stream, "buffer", None)
            if raw is not None:
                # the bytes, so a C locale's ASCII encoding cannot refuse recorded non-ASCII data
                stream.flush()
                raw.write(line.encode("utf-8"))
                raw.flush()
            else:
                stream.write(line)
                stream.flush()
        except (OSError, ValueError) as exc:  # ValueError: the stream was closed
            raise DeliveryFailed(self.name, f"cannot write to standard output: {exc}") from exc


# -- file ------------------------------------------------------------------------------------------------------

class FileSink(Sink):
    """Appends each record as a line to ``path`` and fsyncs it. A file rotated away (renamed or removed) is
    noticed at the next delivery, which creates a new one at ``path``."""

    type = "file"

    def __init__(self, name: str, fmt: str, path: str) -> None:
        super().__init__(name, fmt)
        self.path = path
        self._fd: int | None = None

    def deliver(self, alert: Alert) -> None:
        data = (self.render(alert) + "\n").encode("utf-8")
        try:
            self._append(self._open(), data)
        except OSError as exc:
            self.close()
            raise DeliveryFailed(self.name, f"cannot append to {self.path}: {exc.strerror or exc}") from exc

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def _open(self) -> int:
        if self._fd is not None:
            try:
                here, ours = os.stat(self.path), os.fstat(self._fd)
                if (here.st_dev, here.st_ino) == (ours.st_dev, ours.st_ino):
                    return self._fd
            except FileNotFoundError:
                pass
            self.close()  # rotated away: write where the reader looks now
        flags = os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC
        try:
            self._fd = os.open(self.path, flags | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            self._fd = os.open(self.path, flags)
        else:
            # the new directory entry must survive a crash too, or the fsynced lines go with it
            directory = os.open(os.path.dirname(os.path.abspath(self.path)), os.O_RDONLY | os.O_CLOEXEC)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        return self._fd

    @staticmethod
    def _append(fd: int, data: bytes) -> None:
        regular = stat.S_ISREG(os.fstat(fd).st_mode)  # a FIFO or /dev/stderr: written, not fsynced
        size = os.fstat(fd).st_size if regular else 0
        written = 0
        try:
            while written < len(data):
                written += os.write(fd, data[written:])
        except OSError:
            # cut a partial line (disk full...) so the retry does not leave half a record before the whole one;
            # only if nobody else appended meanwhile
            if regular and written and os.fstat(fd).st_size == size + written:
                os.ftruncate(fd, size)
            raise
        if regular:
            os.fsync(fd)


# -- webhook ---------------------------------------------------------------------------------------------------

RETRY_STATUSES = (429, *range(500, 600))
SIGNATURE_HEADER = "X-Pgaudit-Kit-Signature"
KEY_HEADER = "X-Pgaudit-Kit-Key"
EVENT_ID_HEADER = "X-Pgaudit-Kit-Event-Id"
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP field name (RFC 9110 token)
_RESERVED_HEADERS = ("content-type", "content-length", "transfer-encoding", "host")
# Header values are printable ASCII: anything else in the key (a rule name is free text) is percent-encoded.
_HEADER_SAFE = "".join(chr(code) for code in range(0x21, 0x7F) if chr(code) != "%")


class WebhookSink(Sink):
    """POSTs each record to ``url`` with its media type, the alert key and event id as headers and, with a
    secret, ``X-Pgaudit-Kit-Signature: sha256=<hex HMAC-SHA256 of the body>``. Retries connection errors and
    429/5xx answers ``retries`` times, sleeping ``backoff`` × 2^(n-1) s before the n-th retry after the
    first (urllib3's schedule); a Retry-After header is not obeyed, so a receiver cannot stall the engine."""

    type = "webhook"

    def __init__(self, name: str, fmt: str, url: str, *, secret: bytes | None = None, timeout: float = 5.0,
                 retries: int = 3, backoff: float = 0.5, headers: Mapping[str, str] | None = None,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        import urllib3  # the optional dependency, needed only when a webhook is configured

        super().__init__(name, fmt)
        self._url = url
        self._shown_url = _origin_only(url)
        self._secret = secret
        self._headers = {"User-Agent": f"pgaudit-kit/{__version__}", **(headers or {})}
        self._errors = urllib3.exceptions.HTTPError
        self._retry = urllib3.Retry(total=retries, backoff_factor=backoff, status_forcelist=RETRY_STATUSES,
                                    allowed_methods=frozenset({"POST"}), raise_on_status=False, redirect=False,
                                    respect_retry_after_header=False)
        pool_options: dict[str, Any] = {"timeout": urllib3.Timeout(connect=timeout, read=timeout)}
        if ssl_context is not None:
            pool_options["ssl_context"] = ssl_context
        self._pool: urllib3.PoolManager = urllib3.PoolManager(num_pools=1, **pool_options)

    def signature(self, body: bytes) -> str | None:
        """The signature header's value for *body*, None without a secret."""
        if self._secret is None:
            return None
        return "sha256=" + hmac.new(self._secret, body, hashlib.sha256).hexdigest()

    def deliver(self, alert: Alert) -> None:
        body = self.render(alert).encode("utf-8")
        headers = {**self._headers, "Content-Type": f"{formats.media_type(self.format)}; charset=utf-8",
                   KEY_HEADER: urllib.parse.quote(alert.key, safe=_HEADER_SAFE)}
        if alert.event_id is not None:
            headers[EVENT_ID_HEADER] = str(alert.event_id)
        signature = self.signature(body)
        if signature is not None:
            headers[SIGNATURE_HEADER] = signature
        try:
            response = self._pool.request("POST", self._url, body=body, headers=headers, retries=self._retry,
                                          redirect=False)
        except self._errors as exc:
            # not chained: urllib3's exceptions repeat the full URL, whose path may hold a token
            raise DeliveryFailed(self.name, f"POST to {self._shown_url} failed: {self._reason(exc)}") from None
        if not 200 <= response.status < 300:
            raise DeliveryFailed(self.name, f"POST to {self._shown_url}: HTTP {response.status} {response.reason or ''}"
                                 .rstrip())

    def close(self) -> None:
        self._pool.clear()

    def _reason(self, exc: Exception) -> str:
        reason = getattr(exc, "reason", None) or exc  # MaxRetryError: the last attempt's error
        text = str(reason)
        parts = urllib.parse.urlsplit(self._url)
        for secret_part in (self._url, parts.path, parts.query, parts.username, parts.password):
            if secret_part and secret_part != "/":
                text = text.replace(secret_part, "…")
        if "timed out" in text.lower():
            return "timed out"
        return f"{type(reason).__name__}: {text}"


def _origin_only(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def _build_webhook(name: str, fmt: str, reader: _Options) -> WebhookSink:
    try:
        import urllib3  # noqa: F401  (the optional dependency: say clearly that it is missing)
    except ImportError:
        raise reader.error("type", "the webhook sink needs urllib3: pip install 'pgaudit-kit[alerts]'") from None
    url = reader.string("url", "an http:// or https:// URL", required=True) or ""
    parts = urllib.parse.urlsplit(url)
    try:
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and (parts.port or 1) > 0
    except ValueError:  # a port that is not a number
        valid = False
    if not valid or any(c.isspace() or ord(c) < 0x20 for c in url):
        # the URL itself is not shown: its path or query may hold a token
        raise reader.error("url", "the value is not an http:// or https:// URL")
    secret = _secret(reader)
    headers = _headers(reader)
    ca_file = reader.file("ca_file")
    if ca_file is not None and parts.scheme != "https":
        raise reader.error("ca_file", "applies to https:// URLs only")
    context = _tls_context(reader, ca_file, None, None) if parts.scheme == "https" else None
    return WebhookSink(name, fmt, url, secret=secret, timeout=reader.number("timeout", 5.0, 0, positive=True),
                       retries=reader.integer("retries", 3, 0, 10), backoff=reader.number("backoff", 0.5, 0),
                       headers=headers, ssl_context=context)


def _secret(reader: _Options) -> bytes | None:
    variable = reader.string("secret_env", "the name of an environment variable")
    if variable is None:
        return None
    value = os.environ.get(variable)
    if not value:  # the value is never shown, only the variable's name
        raise reader.error("secret_env", f"the environment variable {variable} is not set or empty")
    return value.encode("utf-8")


def _headers(reader: _Options) -> dict[str, str]:
    table = reader.typed("headers", Mapping, "a table of header names and string values", False)
    headers: dict[str, str] = {}
    for key, value in (table or {}).items():
        if not isinstance(key, str) or not _TOKEN.fullmatch(key):
            raise reader.error("headers", f"{_shown(key)} is not an HTTP header name")
        lowered = key.lower()
        if lowered in _RESERVED_HEADERS or lowered.startswith("x-pgaudit-kit-"):
            raise reader.error("headers", f"{key} is set by the sink itself")
        if not isinstance(value, str) or any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F for c in value):
            raise reader.error("headers", f"{key}: the value must be a string on one line")
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise reader.error("headers", f"{key}: the value must be ASCII (or Latin-1)") from None
        headers[key] = value
    return headers


def _tls_context(reader: _Options, ca_file: str | None, cert_file: str | None,
                 key_file: str | None) -> ssl.SSLContext:
    """A client context that verifies the server (against *ca_file*, else the system's trust store), TLS 1.2
    at least, with the client certificate when given."""
    try:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file)
    except (ssl.SSLError, OSError) as exc:
        raise reader.error("ca_file", f"cannot load CA certificates from {ca_file}: {exc}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert_file is not None:
        try:
            # a password callback: an encrypted key must fail here, not prompt on a daemon's terminal
            context.load_cert_chain(cert_file, key_file, password=lambda: b"")
        except (ssl.SSLError, OSError) as exc:
            raise reader.error("cert_file", f"cannot load the client certificate and key: {exc}") from None
    return context


# -- syslog ----------------------------------------------------------------------------------------------------

# RFC 5424 facility codes; numbers 0-23 are accepted as well.
FACILITIES = {"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
              "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "ntp": 12, "audit": 13,
              **{f"local{n}": 16 + n for n in range(8)}}
# authpriv: alerts carry recorded data (rows, who, from where); the usual syslog configurations write authpriv
# to a file only root reads (/var/log/secure, auth.log) and keep it out of /var/log/messages.
DEFAULT_FACILITY = "authpriv"
# Syslog severity (RFC 5424) for each of SEVERITIES: info 6 Informational ... critical 2 Critical.
SYSLOG_SEVERITY = (6, 5, 4, 3, 2)
SD_ID = "alert@32473"  # 32473: the enterprise number reserved for documentation (RFC 5612)
BOM = b"\xef\xbb\xbf"
MAX_DATAGRAM = 65507  # the largest UDP payload over IPv4: a longer record is cut (its key is in the header)
_NOT_PRINTUSASCII = re.compile(r"[^\x21-\x7e]")
# SD-PARAM values stay on one line and encodable: line breaks, controls and lone surrogates become U+FFFD.
_SD_REPLACED = {code: "\ufffd" for code in [*range(0x00, 0x20), 0x7f, *range(0x80, 0xa0), 0x2028, 0x2029,
                                             *range(0xD800, 0xE000)]}


class SyslogSink(Sink):
    """RFC 5424 messages over UDP (RFC 5426), TCP (RFC 6587 octet counting) or TLS (RFC 5425).

    ``<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [alert@32473 key=... event_id=... seq=... block=...
    rule=... severity=...] BOM record``: TIMESTAMP is the alert's time, MSGID the rule's kind. A connection
    found closed by the receiver is reopened before sending; a send that fails is tried once more on a fresh
    connection, then DeliveryFailed (the next delivery connects again)."""

    type = "syslog"

    def __init__(self, name: str, fmt: str, host: str, port: int, *, transport: str = "tcp",
                 facility: int = FACILITIES[DEFAULT_FACILITY], app_name: str = "pgaudit-kit",
                 hostname: str | None = None, timeout: float = 5.0, ssl_context: ssl.SSLContext | None = None,
                 server_name: str | None = None) -> None:
        super().__init__(name, fmt)
        self.host, self.port, self.transport = host, port, transport
        self._facility = facility
        self._app_name = app_name
        self._hostname = _print_ascii(hostname if hostname is not None else socket.gethostname(), 255)
        self._timeout = timeout
        self._context = ssl_context
        self._server_name = server_name or host
        self._sock: socket.socket | None = None

    def message(self, alert: Alert) -> bytes:
        """The RFC 5424 message for *alert* (without the octet count)."""
        body = self.render(alert).encode("utf-8")  # first: ValueError for an unknown severity or format
        severity = SYSLOG_SEVERITY[SEVERITIES.index(alert.severity)]
        seal = alert.seal or {}
        sealed = seal.get("status") == "sealed"
        params = [("key", alert.key), ("event_id", alert.event_id), ("seq", seal.get("seq") if sealed else None),
                  ("block", seal.get("block") if sealed else None), ("rule", alert.rule),
                  ("severity", alert.severity)]
        element = " ".join(f'{name}="{_sd_value(value)}"' for name, value in params if value is not None)
        header = (f"<{self._facility * 8 + severity}>1 {formats.iso_time(alert.time)} {self._hostname} "
                  f"{self._app_name} {os.getpid()} {_print_ascii(alert.kind, 32)} [{SD_ID} {element}] ")
        head = header.encode("utf-8") + BOM
        if self.transport == "udp" and len(head) + len(body) > MAX_DATAGRAM:
            body = body[:max(0, MAX_DATAGRAM - len(head))].decode("utf-8", "ignore").encode("utf-8")
        return head + body

    def frame(self, alert: Alert) -> bytes:
        """What goes on the wire: the message itself over UDP, ``LENGTH SP message`` over TCP and TLS."""
        message = self.message(alert)
        return message if self.transport == "udp" else f"{len(message)} ".encode("ascii") + message

    def deliver(self, alert: Alert) -> None:
        data = self.frame(alert)
        error: OSError | None = None
        for _attempt in range(2):  # the second on a fresh connection
            try:
                self._connection().sendall(data)
                return
            except OSError as exc:  # ssl.SSLError and socket timeouts included
                self.close()
                error = exc
        raise DeliveryFailed(self.name, f"syslog over {self.transport} to {self.host}:{self.port}: {error}")

    def close(self) -> None:
        if self._sock is not None:
            sock, self._sock = self._sock, None
            sock.close()

    def _connection(self) -> socket.socket:
        if self._sock is not None and not self._still_open(self._sock):
            self.close()
        if self._sock is None:
            self._sock = self._connect()
        return self._sock

    def _connect(self) -> socket.socket:
        if self.transport == "udp":
            family, kind, proto, _, address = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)[0]
            sock = socket.socket(family, kind, proto)
            try:
                sock.settimeout(self._timeout)
                sock.connect(address)  # connected: an ICMP "port unreachable" shows as an error on a later send
            except OSError:
                sock.close()
                raise
            return sock
        sock = socket.create_connection((self.host, self.port), timeout=self._timeout)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            if self._context is not None:
                return self._context.wrap_socket(sock, server_hostname=self._server_name)
        except OSError:
            sock.close()
            raise
        return sock

    def _still_open(self, sock: socket.socket) -> bool:
        """False when a stream connection was closed or reset by the receiver (which never sends data): sending
        on it would put the frame in a buffer nobody reads, and report success."""
        if self.transport == "udp":
            return True
        try:
            if not _readable(sock):
                return True
            sock.setblocking(False)
            try:
                if isinstance(sock, ssl.SSLSocket):
                    # also reads TLS 1.3 session tickets, which make the socket readable without data
                    return bool(sock.recv(1))
                return bool(sock.recv(1, socket.MSG_PEEK))
            finally:
                sock.settimeout(self._timeout)
        except (ssl.SSLWantReadError, BlockingIOError):
            return True
        except (OSError, ValueError):
            return False


def _readable(sock: socket.socket) -> bool:
    if hasattr(select, "poll"):  # select() cannot watch descriptors past 1023, which a busy process may reach
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([sock], [], [], 0)[0])


def _print_ascii(text: str, length: int) -> str:
    """A header field of RFC 5424: printable US-ASCII, no space, at most *length* characters, else '-'."""
    return _NOT_PRINTUSASCII.sub("_", text)[:length] or "-"


def _sd_value(value: Any) -> str:
    """An SD-PARAM value: '"', '\\' and ']' escaped with a backslash (RFC 5424 section 6.3.3)."""
    text = str(value).translate(_SD_REPLACED)
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _address(reader: _Options) -> tuple[str, int]:
    text = reader.string("address", '"host:port"', required=True) or ""
    host, _, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]  # [IPv6]:port
    if not host or not port.isdigit() or not 0 < int(port) < 65536 or _NOT_PRINTUSASCII.search(host):
        raise reader.error("address", f'{_shown(text)} is not "host:port" (an IPv6 address in brackets)')
    return host, int(port)


def _facility(reader: _Options) -> int:
    value = reader.typed("facility", (str, int), "a facility name (auth, authpriv, local0...) or number 0-23",
                        False)
    if value is None:
        return FACILITIES[DEFAULT_FACILITY]
    if isinstance(value, int) and 0 <= value <= 23:
        return value
    if isinstance(value, str) and value in FACILITIES:
        return FACILITIES[value]
    raise reader.error("facility", f"{_shown(value)} is not a facility: {', '.join(FACILITIES)} or 0-23")


def _header_field(reader: _Options, key: str, length: int) -> str | None:
    value = reader.string(key, f"printable ASCII without spaces, at most {length} characters")
    if value is not None and (len(value) > length or _NOT_PRINTUSASCII.search(value)):
        raise reader.error(key, f"{_shown(value)} is not printable ASCII without spaces, at most {length} "
                                "characters")
    return value


def _build_syslog(name: str, fmt: str, reader: _Options) -> SyslogSink:
    host, port = _address(reader)
    transport = reader.choice("transport", TRANSPORTS, "tcp")
    tls_keys = ("ca_file", "cert_file", "key_file", "server_name")
    for key in tls_keys:
        if key in reader.options and transport != "tls":
            raise reader.error(key, 'applies to transport = "tls" only')
    cert_file, key_file = reader.file("cert_file"), reader.file("key_file")
    if key_file is not None and cert_file is None:
        raise reader.error("key_file", "needs cert_file (the client certificate)")
    context = _tls_context(reader, reader.file("ca_file"), cert_file, key_file) if transport == "tls" else None
    return SyslogSink(name, fmt, host, port, transport=transport, facility=_facility(reader),
                      app_name=_header_field(reader, "app_name", 48) or "pgaudit-kit",
                      hostname=_header_field(reader, "hostname", 255),
                      timeout=reader.number("timeout", 5.0, 0, positive=True), ssl_context=context,
                      server_name=reader.string("server_name", "a host name"))


__all__ = ["SINK_TYPES", "DeliveryFailed", "FileSink", "Sink", "SinkConfigError", "StdoutSink", "SyslogSink",
           "WebhookSink", "build_sink"]
