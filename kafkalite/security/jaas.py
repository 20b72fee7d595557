"""JAAS login configuration, as Kafka reads it from ``sasl.jaas.config``.

The value of ``sasl.jaas.config`` (clients) and of
``listener.name.<listener>.<mechanism>.sasl.jaas.config`` (brokers) is Kafka's ``JaasConfig``
syntax::

    <login module class> <control flag> (<option>=<value>)* ;

for example ``org.apache.kafka.common.security.plain.PlainLoginModule required
username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";``.
Kafka tokenises it with ``java.io.StreamTokenizer``; :func:`parse_jaas_config` follows the same
rules, so a line Kafka accepts is accepted here and one it refuses is refused with its message:

* words: letters, ``_``, ``$`` and characters from U+00A0 on, continued by those, digits, ``.``
  and ``-`` (so class names and ``user_alice`` are words);
* quoted values (``"..."`` or ``'...'``) with Java escapes (``\\n``, ``\\t``, octal ``\\101``,
  and ``\\x`` = ``x`` otherwise); a quoted value also ends at a line break;
* numbers are *not* values: ``password=123`` fails as in Kafka ("Value not specified for key
  'password' in JAAS config") — quote it;
* ``//`` and ``/* */`` comments (a lone ``/`` comments out the rest of the line);
* control flags ``required``, ``requisite``, ``sufficient``, ``optional`` (any case); every
  entry ends with ``;``.

Brokers accept exactly one login module per property (Kafka's ``JaasContext``). The PLAIN
server's user database is the ``user_<name>="<password>"`` options of its PlainLoginModule entry
(:func:`plain_users`); the ``username``/``password`` options are what this side logs in with
(:func:`login_credentials`) — for a broker, on inter-broker connections.

:func:`parse_jaas_file` reads the JAAS *file* format (``KafkaServer { ... };`` sections, the
``java.security.auth.login.config`` file) with the same tokeniser; it does not expand
``${...}`` system properties.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

import attrs

from kafkalite.errors import ConfigError

__all__ = [
    "JaasEntry", "parse_jaas_config", "parse_single_jaas_config", "parse_jaas_file",
    "plain_users", "login_credentials", "listener_jaas_config_key", "PLAIN_LOGIN_MODULE",
    "SCRAM_LOGIN_MODULE", "CONTROL_FLAGS",
]

PLAIN_LOGIN_MODULE = "org.apache.kafka.common.security.plain.PlainLoginModule"
SCRAM_LOGIN_MODULE = "org.apache.kafka.common.security.scram.ScramLoginModule"
CONTROL_FLAGS = ("required", "requisite", "sufficient", "optional")
USER_PREFIX = "user_"

# token types besides single characters
_WORD, _QUOTED, _NUMBER, _EOF = "word", "quoted", "number", "eof"
_ESCAPES = {"a": "\x07", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\x0b"}


@attrs.frozen
class JaasEntry:
    """One login module line: class name, control flag (lower case) and options."""

    login_module: str
    control_flag: str
    options: Mapping[str, str] = attrs.field(factory=dict, repr=False)


@attrs.frozen
class _Token:
    type: str            # _WORD, _QUOTED, _NUMBER, _EOF or the character itself
    sval: str | None     # the text of a word or quoted string, else None


def _is_word_start(c: str) -> bool:
    return c.isascii() and (c.isalpha() or c in "_$") or ord(c) >= 0xA0


def _is_word_part(c: str) -> bool:
    return _is_word_start(c) or c in "0123456789.-"


def _tokens(text: str) -> Iterator[_Token]:
    """java.io.StreamTokenizer as Kafka configures it (see the module doc)."""
    i, n = 0, len(text)
    while True:
        while i < n and ord(text[i]) <= 32:
            i += 1
        if i >= n:
            yield _Token(_EOF, None)
            return
        c = text[i]
        if c == "-" and not (i + 1 < n and (text[i + 1].isdigit() or text[i + 1] == ".")):
            yield _Token("-", None)
            i += 1
        elif c.isascii() and (c.isdigit() or c in ".-"):
            i += 1
            seen_dot = c == "."
            while i < n and text[i].isascii() and (text[i].isdigit()
                                                    or (text[i] == "." and not seen_dot)):
                seen_dot = seen_dot or text[i] == "."
                i += 1
            yield _Token(_NUMBER, None)
        elif _is_word_start(c):
            start = i
            while i < n and _is_word_part(text[i]):
                i += 1
            yield _Token(_WORD, text[start:i])
        elif c in "\"'":
            value, i = _quoted(text, i + 1, c)
            yield _Token(_QUOTED, value)
        elif c == "/":
            if text.startswith("/*", i):
                end = text.find("*/", i + 2)
                i = n if end < 0 else end + 2
            else:   # "//" or a lone "/" (StreamTokenizer's default comment character)
                while i < n and text[i] not in "\r\n":
                    i += 1
        else:
            yield _Token(c, None)
            i += 1


def _quoted(text: str, i: int, quote: str) -> tuple[str, int]:
    out: list[str] = []
    n = len(text)
    while i < n and text[i] != quote and text[i] not in "\r\n":
        c = text[i]
        i += 1
        if c == "\\" and i < n:
            c = text[i]
            i += 1
            if "0" <= c <= "7":
                value = int(c)
                limit = 3 if c <= "3" else 2
                digits = 1
                while digits < limit and i < n and "0" <= text[i] <= "7":
                    value = value * 8 + int(text[i])
                    i += 1
                    digits += 1
                c = chr(value)
            else:
                c = _ESCAPES.get(c, c)
        out.append(c)
    if i < n and text[i] == quote:
        i += 1
    return "".join(out), i


class _Parser:
    def __init__(self, text: str):
        self._tokens = _tokens(text)
        self.token = _Token(_EOF, None)

    def next(self) -> _Token:
        self.token = next(self._tokens)
        return self.token

    def entry(self, terminators: str = "") -> JaasEntry:
        """One ``module flag options ;`` starting at the current token (Kafka's
        ``parseAppConfigurationEntry``)."""
        login_module = self.token.sval
        if login_module is None:
            raise ConfigError("Login module not specified in JAAS config")
        if self.next().type == _EOF:
            raise ConfigError("Login module control flag not specified in JAAS config")
        flag = self.token.sval
        if flag is None:
            raise ConfigError("Login module control flag is not available in the JAAS config")
        if flag.lower() not in CONTROL_FLAGS:
            raise ConfigError(f"Invalid login module control flag '{flag}' in JAAS config")
        options: dict[str, str] = {}
        while self.next().type not in (_EOF, ";", *terminators):
            key = self.token.sval
            if self.next().type != "=" or self.next().type == _EOF or self.token.sval is None:
                raise ConfigError(f"Value not specified for key '{'null' if key is None else key}' "
                                  "in JAAS config")
            options[str(key)] = self.token.sval
        if self.token.type != ";":
            raise ConfigError("JAAS config entry not terminated by semi-colon")
        return JaasEntry(login_module, flag.lower(), options)


def parse_jaas_config(text: str) -> list[JaasEntry]:
    """Every login module entry of a ``sasl.jaas.config`` value.

    Raises:
        ConfigError: no entry, or a malformed one (Kafka's messages).
    """
    parser = _Parser(text)
    entries = []
    while parser.next().type != _EOF:
        entries.append(parser.entry())
    if not entries:
        raise ConfigError("Login module not specified in JAAS config")
    return entries


def parse_single_jaas_config(text: str) -> JaasEntry:
    """The one login module of a ``sasl.jaas.config`` property (Kafka allows exactly one).

    Raises:
        ConfigError: malformed, or not exactly one module.
    """
    entries = parse_jaas_config(text)
    if len(entries) != 1:
        raise ConfigError(f"JAAS config property contains {len(entries)} login modules, "
                          "should be 1 module")
    return entries[0]


def parse_jaas_file(text: str) -> dict[str, list[JaasEntry]]:
    """A JAAS file: ``<context name> { <entries> };`` sections -> their entries.

    Raises:
        ConfigError: a malformed section or entry.
    """
    parser = _Parser(text)
    sections: dict[str, list[JaasEntry]] = {}
    while parser.next().type != _EOF:
        name = parser.token.sval
        if name is None:
            raise ConfigError("Expected a login context name in JAAS file")
        if parser.next().type != "{":
            raise ConfigError(f"Expected '{{' after login context {name} in JAAS file")
        entries = sections.setdefault(name, [])
        while parser.next().type != "}":
            if parser.token.type == _EOF:
                raise ConfigError(f"Login context {name} not terminated by '}}' in JAAS file")
            entries.append(parser.entry(terminators="}"))
        if parser.next().type != ";":
            raise ConfigError(f"Login context {name} not terminated by '}};' in JAAS file")
    return sections


def listener_jaas_config_key(listener: str, mechanism: str) -> str:
    """``listener.name.<listener>.<mechanism>.sasl.jaas.config`` (both lower-cased, as Kafka
    looks them up)."""
    return f"listener.name.{listener.lower()}.{mechanism.lower()}.sasl.jaas.config"


def plain_users(entries: JaasEntry | Iterable[JaasEntry]) -> dict[str, str]:
    """The PLAIN user database: ``user_<name>`` options of PlainLoginModule entries."""
    if isinstance(entries, JaasEntry):
        entries = [entries]
    users: dict[str, str] = {}
    for entry in entries:
        if entry.login_module != PLAIN_LOGIN_MODULE:
            continue
        for key, value in entry.options.items():
            if key.startswith(USER_PREFIX) and len(key) > len(USER_PREFIX):
                users.setdefault(key[len(USER_PREFIX):], value)
    return users


def login_credentials(entry: JaasEntry) -> tuple[str | None, str | None]:
    """``(username, password)`` options this side logs in with (None when absent)."""
    return entry.options.get("username"), entry.options.get("password")
