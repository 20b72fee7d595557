"""SCRAM (RFC 5802, RFC 7677): the math, Kafka's credential format and the four messages.

**Mechanisms.** SCRAM-SHA-256 and SCRAM-SHA-512, each with a minimum of 4096 iterations (Kafka's
``ScramMechanism``). Their wire numbers in the KIP-554 admin APIs are 1 and 2.

**Math** (RFC 5802 §3). ``SaltedPassword = Hi(password, salt, i)`` (PBKDF2 with one block, so
``hashlib.pbkdf2_hmac`` computes it), ``ClientKey = HMAC(SaltedPassword, "Client Key")``,
``StoredKey = H(ClientKey)``, ``ServerKey = HMAC(SaltedPassword, "Server Key")``. The server keeps
only salt, StoredKey, ServerKey and the iteration count: that is a :class:`ScramCredential`.
Like Kafka, the password is not SASLprep-normalised: its UTF-8 bytes are used as is.

**Credential format.** What Kafka stores as the value of ``SCRAM-SHA-256`` / ``SCRAM-SHA-512``
in ``/config/users/<user>`` (``ScramCredentialUtils``)::

    salt=<base64>,stored_key=<base64>,server_key=<base64>,iterations=<n>

**Messages** (Kafka's ``ScramMessages``, same grammar)::

    client-first   n,[a=<authzid>],n=<saslname>,r=<client nonce>[,<ext>=<value>]*
    server-first   r=<client nonce><server nonce>,s=<base64 salt>,i=<iterations>
    client-final   c=<base64 gs2 header>,r=<nonce>,p=<base64 proof>
    server-final   v=<base64 server signature>   or   e=<error>

Only the gs2 flag ``n`` (no channel binding) is accepted, as in Kafka. The one extension Kafka
knows is ``tokenauth=true`` (delegation tokens). User names travel as *saslname*: ``=`` and
``,`` escaped as ``=3D`` and ``=2C``. Parsed messages keep the exact text the peer signed
(``bare`` and ``without_proof``), so the AuthMessage is rebuilt from what was sent rather than
re-serialised (Kafka re-serialises, which reorders extensions).

Nothing here is random: salts and nonces are arguments.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import re

import attrs

__all__ = [
    "ScramMechanism", "ScramCredential", "ScramFormatError", "MIN_ITERATIONS",
    "DEFAULT_ITERATIONS", "salted_password", "make_credential", "credential_from_salted_password",
    "client_key", "stored_key", "server_key", "client_proof", "server_signature", "auth_message",
    "verify_client_proof", "format_credential", "parse_credential", "sasl_name",
    "username_from_sasl_name", "ClientFirstMessage", "ServerFirstMessage", "ClientFinalMessage",
    "ServerFinalMessage", "TOKEN_AUTH_EXTENSION", "is_valid_nonce",
]

MIN_ITERATIONS = 4096       # Kafka's ScramMechanism.minIterations, both mechanisms
DEFAULT_ITERATIONS = 4096   # kafka-configs' default when iterations= is not given
TOKEN_AUTH_EXTENSION = "tokenauth"


class ScramFormatError(ValueError):
    """A SCRAM message or a stored credential does not follow the grammar."""


class ScramMechanism(enum.Enum):
    """A SCRAM mechanism: SASL name, hashlib name, KIP-554 wire number."""

    SCRAM_SHA_256 = ("SCRAM-SHA-256", "sha256", 1)
    SCRAM_SHA_512 = ("SCRAM-SHA-512", "sha512", 2)

    def __init__(self, mechanism_name: str, hash_name: str, type_id: int):
        self.mechanism_name = mechanism_name
        self.hash_name = hash_name
        self.type_id = type_id

    @property
    def min_iterations(self) -> int:
        return MIN_ITERATIONS

    @property
    def digest_size(self) -> int:
        return hashlib.new(self.hash_name).digest_size

    @classmethod
    def for_name(cls, name: str) -> ScramMechanism | None:
        """``"SCRAM-SHA-256"`` -> the mechanism; None if not a SCRAM mechanism name."""
        for m in cls:
            if m.mechanism_name == name:
                return m
        return None

    @classmethod
    def for_type(cls, type_id: int) -> ScramMechanism | None:
        """KIP-554 wire number (1, 2) -> the mechanism; None for 0 (UNKNOWN) or anything else."""
        for m in cls:
            if m.type_id == type_id:
                return m
        return None

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(m.mechanism_name for m in cls)


def _mechanism(mechanism: ScramMechanism | str) -> ScramMechanism:
    if isinstance(mechanism, ScramMechanism):
        return mechanism
    found = ScramMechanism.for_name(mechanism)
    if found is None:
        raise ValueError(f"not a SCRAM mechanism: {mechanism!r}")
    return found


@attrs.frozen
class ScramCredential:
    """What the server stores for one user and mechanism (never the password)."""

    salt: bytes
    stored_key: bytes = attrs.field(repr=False)
    server_key: bytes = attrs.field(repr=False)
    iterations: int


# -- the math --------------------------------------------------------------------------------

def _hmac(mechanism: ScramMechanism, key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, mechanism.hash_name).digest()


def _hash(mechanism: ScramMechanism, data: bytes) -> bytes:
    return hashlib.new(mechanism.hash_name, data).digest()


def _xor(a: bytes, b: bytes) -> bytes:
    if len(a) != len(b):
        raise ValueError("Argument arrays must be of the same length")
    return bytes(x ^ y for x, y in zip(a, b))


def salted_password(mechanism: ScramMechanism | str, password: str, salt: bytes,
                    iterations: int) -> bytes:
    """``Hi(UTF-8(password), salt, iterations)``."""
    m = _mechanism(mechanism)
    return hashlib.pbkdf2_hmac(m.hash_name, password.encode("utf-8"), salt, iterations)


def client_key(mechanism: ScramMechanism | str, salted: bytes) -> bytes:
    return _hmac(_mechanism(mechanism), salted, b"Client Key")


def stored_key(mechanism: ScramMechanism | str, key: bytes) -> bytes:
    """``H(ClientKey)``."""
    return _hash(_mechanism(mechanism), key)


def server_key(mechanism: ScramMechanism | str, salted: bytes) -> bytes:
    return _hmac(_mechanism(mechanism), salted, b"Server Key")


def credential_from_salted_password(mechanism: ScramMechanism | str, salt: bytes,
                                    salted: bytes, iterations: int) -> ScramCredential:
    """The stored credential from an already salted password (what AlterUserScramCredentials
    carries; Kafka's ``ScramFormatter.generateCredential(salt, saltedPassword, iterations)``)."""
    m = _mechanism(mechanism)
    return ScramCredential(salt=bytes(salt), stored_key=stored_key(m, client_key(m, salted)),
                           server_key=server_key(m, salted), iterations=iterations)


def make_credential(mechanism: ScramMechanism | str, password: str, *, salt: bytes,
                    iterations: int) -> ScramCredential:
    """The stored credential of ``password`` (the caller draws the random salt)."""
    m = _mechanism(mechanism)
    return credential_from_salted_password(m, salt, salted_password(m, password, salt,
                                                                    iterations), iterations)


def auth_message(client_first_bare: str, server_first: str, client_final_without_proof: str
                 ) -> bytes:
    """RFC 5802 AuthMessage: the three texts joined by commas, UTF-8."""
    return f"{client_first_bare},{server_first},{client_final_without_proof}".encode("utf-8")


def client_proof(mechanism: ScramMechanism | str, salted: bytes, message: bytes) -> bytes:
    """``ClientKey XOR HMAC(StoredKey, AuthMessage)``."""
    m = _mechanism(mechanism)
    key = client_key(m, salted)
    return _xor(key, _hmac(m, stored_key(m, key), message))


def server_signature(mechanism: ScramMechanism | str, key: bytes, message: bytes) -> bytes:
    """``HMAC(ServerKey, AuthMessage)``."""
    return _hmac(_mechanism(mechanism), key, message)


def verify_client_proof(mechanism: ScramMechanism | str, credential: ScramCredential,
                        message: bytes, proof: bytes) -> bool:
    """Whether ``H(proof XOR HMAC(StoredKey, AuthMessage)) == StoredKey`` (constant time)."""
    m = _mechanism(mechanism)
    signature = _hmac(m, credential.stored_key, message)
    if len(proof) != len(signature):
        return False
    return hmac.compare_digest(_hash(m, _xor(signature, proof)), credential.stored_key)


# -- Kafka's credential string -----------------------------------------------------------------

_CREDENTIAL_KEYS = ("salt", "stored_key", "server_key", "iterations")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(text: str) -> bytes:
    """Java's basic Base64 decoder: strict alphabet; padding may be left out."""
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as e:
        raise ScramFormatError(f"invalid base64 {text!r}: {e}") from None


def format_credential(cred: ScramCredential) -> str:
    """``salt=<b64>,stored_key=<b64>,server_key=<b64>,iterations=<n>`` (ScramCredentialUtils)."""
    return (f"salt={_b64(cred.salt)},stored_key={_b64(cred.stored_key)},"
            f"server_key={_b64(cred.server_key)},iterations={cred.iterations}")


_JAVA_INT = re.compile(r"[+-]?[0-9]+")


def parse_credential(text: str) -> ScramCredential:
    """The inverse of :func:`format_credential`, as strict as Kafka's ``credentialFromString``.

    Raises:
        ScramFormatError: not exactly the four keys, a token without ``key=``, bad base64 or a
            bad iteration count.
    """
    props: dict[str, str] = {}
    for token in text.split(","):
        index = token.find("=")
        if index <= 0:
            raise ScramFormatError(f"Credentials not valid: {text}")
        props[token[:index]] = token[index + 1:]
    if len(props) != 4 or any(k not in props for k in _CREDENTIAL_KEYS):
        raise ScramFormatError(f"Credentials not valid: {text}")
    iterations = props["iterations"]
    if not _JAVA_INT.fullmatch(iterations) or not -2**31 <= int(iterations) < 2**31:
        raise ScramFormatError(f"Credentials not valid: {text}")
    return ScramCredential(salt=_b64decode(props["salt"]),
                           stored_key=_b64decode(props["stored_key"]),
                           server_key=_b64decode(props["server_key"]),
                           iterations=int(iterations))


# -- saslname ------------------------------------------------------------------------------------

def sasl_name(username: str) -> str:
    """Escape a user name for ``n=``: ``=`` -> ``=3D``, ``,`` -> ``=2C``."""
    return username.replace("=", "=3D").replace(",", "=2C")


def username_from_sasl_name(name: str) -> str:
    """Undo :func:`sasl_name` (Kafka's ``ScramFormatter.username``).

    Raises:
        ScramFormatError: an ``=`` that is not part of ``=2C`` or ``=3D``.
    """
    username = name.replace("=2C", ",")
    if "=" in username.replace("=3D", ""):
        raise ScramFormatError(f"Invalid username: {name}")
    return username.replace("=3D", "=")


# -- messages --------------------------------------------------------------------------------------
# The grammar of Kafka's ScramMessages (ASCII only, like Kafka's Java patterns).

_ALPHA = r"[A-Za-z]+"
_VALUE_SAFE = r"[\x01-\x2b\x2d-\x3c\x3e-\x7f]+"          # no ',' and no '='
_VALUE = r"[\x01-\x2b\x2d-\x7f]+"                          # no ','
_PRINTABLE = r"[\x21-\x2b\x2d-\x7e]+"                      # printable, no ','
_SASLNAME = r"(?:[\x01-\x2b\x2d-\x3c\x3e-\x7f]|=2C|=3D)+"
_B64C = r"[a-zA-Z0-9/+]"
_BASE64 = rf"(?:{_B64C}{{4}})*(?:{_B64C}{{3}}=|{_B64C}{{2}}==)?"
_RESERVED = rf"(?:m=(?P<reserved>{_VALUE}),)?"
_EXTENSIONS = rf"(?:,{_ALPHA}={_VALUE})*"

_CLIENT_FIRST = re.compile(
    rf"n,(?:a=(?P<authzid>{_SASLNAME}))?,(?P<bare>{_RESERVED}n=(?P<saslname>{_SASLNAME}),"
    rf"r=(?P<nonce>{_PRINTABLE})(?P<extensions>{_EXTENSIONS}))")
_SERVER_FIRST = re.compile(
    rf"{_RESERVED}r=(?P<nonce>{_PRINTABLE}),s=(?P<salt>{_BASE64}),i=(?P<iterations>[0-9]+)"
    rf"{_EXTENSIONS}")
_CLIENT_FINAL = re.compile(
    rf"(?P<without_proof>c=(?P<channel>{_BASE64}),r=(?P<nonce>{_PRINTABLE}){_EXTENSIONS}),"
    rf"p=(?P<proof>{_BASE64})")
_SERVER_FINAL = re.compile(
    rf"(?:e=(?P<error>{_VALUE_SAFE}))|(?:v=(?P<signature>{_BASE64}){_EXTENSIONS})")
_NONCE = re.compile(_PRINTABLE)


def is_valid_nonce(nonce: str) -> bool:
    """Printable ASCII without commas (RFC 5802 ``printable``)."""
    return bool(_NONCE.fullmatch(nonce))


def _text(data: bytes | str) -> str:
    if isinstance(data, str):
        return data
    return bytes(data).decode("utf-8", errors="replace")


def _parse_extensions(text: str) -> tuple[tuple[str, str], ...]:
    """``,k=v,k2=v2`` -> ``(("k", "v"), ("k2", "v2"))``."""
    out = []
    for item in text.split(",")[1:]:
        key, _, value = item.partition("=")
        out.append((key, value))
    return tuple(out)


@attrs.frozen(kw_only=True)
class ClientFirstMessage:
    """``gs2-header client-first-message-bare``; ``bare`` is exactly what the client signs."""

    sasl_name: str
    nonce: str
    authorization_id: str = ""
    extensions: tuple[tuple[str, str], ...] = ()
    bare: str
    reserved: str | None = None

    @classmethod
    def build(cls, username: str, nonce: str, *, authorization_id: str = "",
              extensions: tuple[tuple[str, str], ...] = ()) -> ClientFirstMessage:
        name = sasl_name(username)
        bare = f"n={name},r={nonce}" + "".join(f",{k}={v}" for k, v in extensions)
        return cls(sasl_name=name, nonce=nonce, authorization_id=authorization_id,
                   extensions=tuple(extensions), bare=bare)

    @classmethod
    def parse(cls, data: bytes | str) -> ClientFirstMessage:
        text = _text(data)
        m = _CLIENT_FIRST.fullmatch(text)
        if m is None:
            raise ScramFormatError(f"Invalid SCRAM client first message format: {text}")
        return cls(sasl_name=m["saslname"], nonce=m["nonce"],
                   authorization_id=m["authzid"] or "",
                   extensions=_parse_extensions(m["extensions"]), bare=m["bare"],
                   reserved=m["reserved"])

    @property
    def gs2_header(self) -> str:
        authzid = f"a={self.authorization_id}" if self.authorization_id else ""
        return f"n,{authzid},"

    @property
    def token_authenticated(self) -> bool:
        """The ``tokenauth=true`` extension (Java's ``Boolean.parseBoolean``)."""
        return dict(self.extensions).get(TOKEN_AUTH_EXTENSION, "").lower() == "true"

    def to_text(self) -> str:
        return self.gs2_header + self.bare

    def to_bytes(self) -> bytes:
        return self.to_text().encode("utf-8")


@attrs.frozen(kw_only=True)
class ServerFirstMessage:
    """``r=<combined nonce>,s=<salt>,i=<iterations>``."""

    nonce: str
    salt: bytes
    iterations: int

    @classmethod
    def parse(cls, data: bytes | str) -> ServerFirstMessage:
        text = _text(data)
        m = _SERVER_FIRST.fullmatch(text)
        if m is None:
            raise ScramFormatError(f"Invalid SCRAM server first message format: {text}")
        iterations = int(m["iterations"])
        if not 0 < iterations < 2**31:
            raise ScramFormatError(f"Invalid SCRAM server first message format: invalid "
                                   f"iterations {m['iterations']}")
        return cls(nonce=m["nonce"], salt=_b64decode(m["salt"]), iterations=iterations)

    def to_text(self) -> str:
        return f"r={self.nonce},s={_b64(self.salt)},i={self.iterations}"

    def to_bytes(self) -> bytes:
        return self.to_text().encode("utf-8")


@attrs.frozen(kw_only=True)
class ClientFinalMessage:
    """``c=<channel binding>,r=<nonce>,p=<proof>``; ``without_proof`` is what was signed."""

    channel_binding: bytes
    nonce: str
    proof: bytes = attrs.field(repr=False)
    without_proof: str

    @staticmethod
    def unsigned(channel_binding: bytes, nonce: str) -> str:
        """The text the proof is computed over: ``c=<b64>,r=<nonce>``."""
        return f"c={_b64(channel_binding)},r={nonce}"

    @classmethod
    def parse(cls, data: bytes | str) -> ClientFinalMessage:
        text = _text(data)
        m = _CLIENT_FINAL.fullmatch(text)
        if m is None:
            raise ScramFormatError(f"Invalid SCRAM client final message format: {text}")
        return cls(channel_binding=_b64decode(m["channel"]), nonce=m["nonce"],
                   proof=_b64decode(m["proof"]), without_proof=m["without_proof"])

    def to_text(self) -> str:
        return f"{self.without_proof},p={_b64(self.proof)}"

    def to_bytes(self) -> bytes:
        return self.to_text().encode("utf-8")


@attrs.frozen(kw_only=True)
class ServerFinalMessage:
    """``v=<server signature>`` or ``e=<error>`` (exactly one of the two is set)."""

    error: str | None = None
    server_signature: bytes | None = None

    @classmethod
    def parse(cls, data: bytes | str) -> ServerFinalMessage:
        text = _text(data)
        m = _SERVER_FINAL.fullmatch(text)
        if m is None:
            raise ScramFormatError(f"Invalid SCRAM server final message format: {text}")
        if m["error"] is not None:
            return cls(error=m["error"])
        return cls(server_signature=_b64decode(m["signature"]))

    def to_text(self) -> str:
        if self.error is not None:
            return f"e={self.error}"
        assert self.server_signature is not None
        return f"v={_b64(self.server_signature)}"

    def to_bytes(self) -> bytes:
        return self.to_text().encode("utf-8")
