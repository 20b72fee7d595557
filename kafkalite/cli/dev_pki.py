"""Throw-away certificates for trying TLS locally, and for the tests and benchmarks.

``python -m kafkalite.cli.dev_pki DIR [--client NAME ...]`` (or :func:`make_pki`) runs the
``openssl`` command line to create, in ``DIR``, a CA and certificates signed by it for a broker
(subject alternative names ``localhost`` and ``127.0.0.1``) and for clients, as PEM files in
the shapes Kafka's PEM stores take (KIP-651): ``broker-keystore.pem`` holds the broker's
private key (encrypted with ``ssl.key.password``) and certificate chain, ``ca.crt`` is the
truststore, ``<client>.crt``/``<client>.key`` are client certificates for mutual TLS. Two-day
validity: these are for development, never for production. Every run makes new keys.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import attrs
import click

__all__ = ["Pki", "make_pki", "main"]


@attrs.frozen
class Pki:
    directory: Path
    ca: Path                      # CA certificate (the truststore)
    broker_keystore: Path         # broker key + certificate chain, PEM
    broker_key_password: str | None
    clients: dict[str, tuple[Path, Path]]  # name -> (certificate, unencrypted key)

    def client_keystore(self, name: str) -> Path:
        cert, key = self.clients[name]
        path = self.directory / f"{name}-keystore.pem"
        if not path.exists():
            path.write_text(key.read_text() + cert.read_text())
        return path


def _openssl(*args: str, cwd: Path) -> None:
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {r.stderr}")


def _signed(directory: Path, name: str, subject: str, *, san: str | None = None,
            key_password: str | None = None, days: int = 2) -> tuple[Path, Path]:
    key, csr, cert = (directory / f"{name}.{ext}" for ext in ("key", "csr", "crt"))
    _openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key.name, "-out",
             csr.name, "-subj", subject, cwd=directory)
    ext = directory / f"{name}.ext"
    lines = ["basicConstraints=CA:FALSE", "keyUsage=digitalSignature,keyEncipherment",
             "extendedKeyUsage=serverAuth,clientAuth"]
    if san:
        lines.append(f"subjectAltName={san}")
    ext.write_text("\n".join(lines) + "\n")
    _openssl("x509", "-req", "-in", csr.name, "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", cert.name, "-days", str(days), "-sha256", "-extfile",
             ext.name, cwd=directory)
    if key_password is not None:
        encrypted = directory / f"{name}.enc.key"
        _openssl("pkcs8", "-topk8", "-in", key.name, "-out", encrypted.name, "-passout",
                 f"pass:{key_password}", cwd=directory)
        key = encrypted
    return cert, key


def make_pki(directory: Path, *, clients: tuple[str, ...] = ("client",),
             broker_key_password: str | None = "broker-key-pw", days: int = 2) -> Pki:
    """A CA, a broker keystore (key encrypted with ``broker_key_password``, as Kafka's
    ``ssl.key.password``) and one certificate per client name (subject ``CN=<name>,O=test``).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
             "ca.crt", "-days", str(days), "-subj", "/CN=kafkalite-test-ca", cwd=directory)
    cert, key = _signed(directory, "broker", "/CN=localhost/O=kafkalite",
                        san="DNS:localhost,IP:127.0.0.1", key_password=broker_key_password,
                        days=days)
    keystore = directory / "broker-keystore.pem"
    keystore.write_text(key.read_text() + cert.read_text())
    client_files = {name: _signed(directory, name, f"/O=test/CN={name}", days=days)
                    for name in clients}
    return Pki(directory, directory / "ca.crt", keystore, broker_key_password, client_files)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--client", "clients", multiple=True, default=("client",), show_default=True,
              help="A client certificate to make (repeatable).")
@click.option("--key-password", default="broker-key-pw", show_default=True,
              help="Encrypts the broker's key (its ssl.key.password).")
@click.option("--days", type=click.IntRange(min=1), default=365, show_default=True,
              help="Validity of the certificates.")
def main(directory: str, clients: tuple[str, ...], key_password: str, days: int) -> None:
    """Make a development CA, a broker keystore and client certificates in DIRECTORY."""
    try:
        pki = make_pki(Path(directory), clients=clients, broker_key_password=key_password,
                       days=days)
    except (RuntimeError, FileNotFoundError) as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"ssl.keystore.type=PEM\nssl.keystore.location={pki.broker_keystore}\n"
               f"ssl.key.password={key_password}\nssl.truststore.type=PEM\n"
               f"ssl.truststore.location={pki.ca}")


if __name__ == "__main__":
    sys.exit(main())
