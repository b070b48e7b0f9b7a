"""Ed25519 keys and C2SP signed notes over tlog-checkpoint bodies. Pure: files and bytes, no database.

Key files use the formats of the C2SP signed-note spec (and Go's golang.org/x/mod/sumdb/note):
  private: ``PRIVATE+KEY+<name>+<hash>+<base64(0x01 || 32-byte seed)>``
  public:  ``<name>+<hash>+<base64(0x01 || 32-byte public key)>``
where ``<hash>`` is 8 hex digits: the first 4 bytes of SHA-256(name || "\\n" || 0x01 || public key).
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import UsageError

ALG_ED25519 = b"\x01"
SIGNATURE_PREFIX = "\u2014 "  # em dash and space start every signature line


class SignatureError(ValueError):
    """A note's signature is missing or wrong."""


def b64decode(text: str) -> bytes:
    """Standard base64 with padding, in its one canonical form: *text* must be what encoding the bytes gives back.
    Python's decoder accepts other spellings of the same bytes (nonzero unused bits); a verifier that accepted
    them would accept notes and proofs that are not byte for byte what was signed or written."""
    if not isinstance(text, str):
        raise ValueError("not a base64 string")
    raw = base64.b64decode(text, validate=True)
    if base64.b64encode(raw).decode() != text:
        raise ValueError("not canonical base64")
    return raw


def _key_hash(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ALG_ED25519 + public).digest()[:4]


def _check_name(name: str) -> None:
    if not name or any(c in name for c in "+ \n\t") or not name.isprintable():
        raise UsageError(f"invalid key name {name!r}: no spaces or '+', printable characters only")


@dataclass(frozen=True)
class VerifierKey:
    name: str
    public: bytes

    @property
    def key_hash(self) -> bytes:
        return _key_hash(self.name, self.public)

    def encode(self) -> str:
        return f"{self.name}+{self.key_hash.hex()}+{base64.b64encode(ALG_ED25519 + self.public).decode()}"

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        try:
            name, hash_hex, blob = text.strip().split("+", 2)
            raw = b64decode(blob)
        except ValueError as exc:
            raise UsageError(f"not a verifier key: {text.strip()[:60]!r}") from exc
        if raw[:1] != ALG_ED25519 or len(raw) != 33:
            raise UsageError("verifier key is not an Ed25519 key")
        key = cls(name, raw[1:])
        if key.key_hash.hex() != hash_hex:
            raise UsageError("verifier key hash does not match its name and key")
        return key


@dataclass(frozen=True)
class SignerKey:
    name: str
    seed: bytes

    def verifier(self) -> VerifierKey:
        public = Ed25519PrivateKey.from_private_bytes(self.seed).public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return VerifierKey(self.name, public)

    def encode(self) -> str:
        v = self.verifier()
        return f"PRIVATE+KEY+{self.name}+{v.key_hash.hex()}+{base64.b64encode(ALG_ED25519 + self.seed).decode()}"

    @classmethod
    def parse(cls, text: str) -> SignerKey:
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise UsageError("not a pgaudit-kit private key file")
        try:
            raw = b64decode(parts[4])
        except ValueError as exc:
            raise UsageError("private key file is corrupt") from exc
        if raw[:1] != ALG_ED25519 or len(raw) != 33:
            raise UsageError("private key is not an Ed25519 key")
        key = cls(parts[2], raw[1:])
        if key.verifier().key_hash.hex() != parts[3]:
            raise UsageError("private key hash does not match its key")
        return key

    def sign(self, message: bytes) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(self.seed).sign(message)


def generate(name: str) -> SignerKey:
    _check_name(name)
    seed = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    return SignerKey(name, seed)


def write_key_pair(key: SignerKey, private_path: Path, public_path: Path) -> None:
    """Write both files; refuses to overwrite either. The private key is created mode 0600."""
    for path in (private_path, public_path):
        if path.exists():
            raise UsageError(f"{path} exists; refusing to overwrite a key file")
    if not private_path.parent.is_dir():
        raise UsageError(f"{private_path.parent} is not a folder; create it first (mode 0700)")
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key.encode() + "\n")
    fd = os.open(public_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "w") as out:
        out.write(key.verifier().encode() + "\n")


def read_private_key(path: Path) -> SignerKey:
    """Load a private key, refusing one that group or others can read or write."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        text = path.read_text()
    except OSError as exc:
        raise UsageError(f"cannot read private key {path}: {exc.strerror}") from exc
    if mode & 0o077:
        raise UsageError(f"private key {path} is accessible to others (mode {mode:04o}); run: chmod 600 {path}")
    return SignerKey.parse(text)


def read_public_key(path: Path) -> VerifierKey:
    try:
        return VerifierKey.parse(path.read_text())
    except OSError as exc:
        raise UsageError(f"cannot read public key {path}: {exc.strerror}") from exc


def sign_note(text: str, key: SignerKey) -> str:
    """A signed note: *text* (ending in a newline), a blank line, one signature line."""
    if not text.endswith("\n") or "\n\n" in text:
        raise ValueError("note text must end with a newline and contain no blank line")
    signature = key.verifier().key_hash + key.sign(text.encode())
    return f"{text}\n{SIGNATURE_PREFIX}{key.name} {base64.b64encode(signature).decode()}\n"


def open_note(note: str, key: VerifierKey | None) -> str:
    """The text of *note*. With *key*, raises SignatureError unless that key signed it."""
    text, sep, signatures = note.rpartition("\n\n")
    if not sep or not note.endswith("\n"):
        raise SignatureError("not a signed note: no blank line before the signatures, or no newline after them")
    if any((c < " " and c != "\n") or c == "\x7f" for c in note):  # C2SP signed-note: no ASCII control but newline
        raise SignatureError("a signed note holds no control character but newline")
    text += "\n"
    if key is None:
        return text
    lines = []
    for line in signatures.split("\n")[:-1]:  # every line ends in a newline, the note too
        if not line.startswith(SIGNATURE_PREFIX):
            raise SignatureError(f"malformed signature line {line[:40]!r}")
        name, _, blob = line[len(SIGNATURE_PREFIX):].rpartition(" ")
        try:
            _check_name(name)
            raw = b64decode(blob)
        except (ValueError, UsageError) as exc:
            raise SignatureError(f"malformed signature line {line[:40]!r}") from exc
        if len(raw) < 5:  # a key hash and a signature
            raise SignatureError(f"malformed signature line {line[:40]!r}")
        lines.append((name, raw))
    ours = [raw for name, raw in lines if name == key.name and raw[:4] == key.key_hash]  # others' are skipped
    if not ours:
        raise SignatureError(f"note is not signed by key {key.name}+{key.key_hash.hex()}")
    for raw in ours:  # every line of the key must verify, as in Go's note package
        try:
            Ed25519PublicKey.from_public_bytes(key.public).verify(raw[4:], text.encode())
        except InvalidSignature as exc:
            raise SignatureError(f"signature by {key.name} does not verify") from exc
    return text


def origin_line(system_identifier: str, database: str, install_id: str) -> str:
    """The checkpoint origin of one database instance (docs/ENCODING.md §5): the cluster system identifier, the
    database name percent-encoded (every UTF-8 byte but RFC 3986's unreserved characters) and the install id."""
    return f"pgaudit-kit/{system_identifier}/{quote(database, safe='')}/{install_id}"


@dataclass(frozen=True)
class Checkpoint:
    """A tlog-checkpoint body: origin line, tree size, base64 root hash."""

    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise SignatureError("checkpoint body must be origin, size and root lines")
        try:
            size = int(lines[1])
            root = b64decode(lines[2])
        except ValueError as exc:
            raise SignatureError("checkpoint size or root is malformed") from exc
        if not lines[0] or size < 0 or len(root) != 32 or str(size) != lines[1]:
            raise SignatureError("checkpoint size or root is malformed")
        return cls(lines[0], size, root)
