"""The shipped deployment (``deploy/``) made runnable on loopback for the
tests: nginx's files rendered with a throwaway certificate, their own prefix,
pid file and temporary folders and free loopback ports, nginx started in the
foreground; the torrc rendered with its own folders.

Rendering replaces named strings only, and fails when one is missing: a
change to a shipped file that the rendering no longer matches breaks the
test instead of going untested."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
NGINX_FILES = ("nginx.conf", "tnr-intake-proxy.conf", "tnr-intake.conf", "tnr-console.conf")
#: The host name both sites answer to in the tests: a loopback name that
#: WebAuthn accepts as relying party id (an IP address it refuses).
HOST = "localhost"
#: The onion address the tests' Tor Browser sends as Host on the onion site.
ONION = "deploytestxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.onion"
#: The placeholder the shipped files carry for the operator's onion address.
SHIPPED_ONION = "youronionaddressxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.onion"


def require_program(name: str) -> str:
    """The path of ``name`` (nginx, tor): missing, the test fails in CI
    (``scripts/ci-setup.sh`` installs them) and is skipped elsewhere."""
    for candidate in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/bin/{name}"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    if os.environ.get("CI"):
        pytest.fail(f"{name} is missing in CI: scripts/ci-setup.sh installs it")
    pytest.skip(f"Debian's {name} is not installed (apt-get install {name})")


@dataclass(frozen=True)
class Certificate:
    """A throwaway self-signed certificate for :data:`HOST` and 127.0.0.1."""

    cert: Path
    key: Path
    #: base64 SHA-256 of the public key, for Chromium's
    #: ``--ignore-certificate-errors-spki-list`` (the page is then a secure
    #: context without a certificate error, which WebAuthn needs).
    spki_sha256: str


def self_signed_certificate(directory: Path) -> Certificate:
    """Write a P-256 key and a one-day self-signed certificate (its own
    authority, so ``requests`` can trust it as a CA bundle)."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(HOST), x509.IPAddress(ipaddress.IPv4Address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_path.chmod(0o600)
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return Certificate(cert_path, key_path, base64.b64encode(hashlib.sha256(spki).digest()).decode())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Ports:
    """Loopback ports of the rendered sites and of the two gunicorns."""

    intake_http: int = field(default_factory=free_port)
    intake_https: int = field(default_factory=free_port)
    intake_onion: int = field(default_factory=free_port)
    console_http: int = field(default_factory=free_port)
    console_https: int = field(default_factory=free_port)
    intake_gunicorn: int = field(default_factory=free_port)
    console_gunicorn: int = field(default_factory=free_port)


def substitute(text: str, replacements: list[tuple[str, str]], name: str) -> str:
    """``text`` with each ``(old, new)`` replaced; every ``old`` must occur."""
    for old, new in replacements:
        assert old in text, f"{name}: {old!r} is gone; update tests/deploy/shipped.py to the new file"
        text = text.replace(old, new)
    return text


def render_nginx(prefix: Path, certificate: Certificate, ports: Ports | None) -> Path:
    """Write the shipped nginx files under ``prefix`` for a test nginx and
    return its main file. Paths (pid, logs, temporary folders, certificates,
    the snippet and the sites) always move under ``prefix``; with ``ports``
    the listening addresses and the upstreams move to loopback ports too,
    else they stay as shipped (for ``nginx -t``, which binds nothing)."""
    for sub in ("logs", "temp", "snippets", "sites-enabled"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    log = str(prefix / "logs" / "error.log")
    temp = prefix / "temp"
    temp_paths = " ".join(
        f"{kind}_temp_path {temp / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # As root, nginx's workers would drop to www-data, who cannot enter the
    # test's private folders; stay the user the test runs as.
    user = "user root;" if os.geteuid() == 0 else ""
    main = substitute(
        (DEPLOY / "nginx" / "nginx.conf").read_text(),
        [
            ("user www-data;", user),
            ("pid /run/nginx.pid;", f"pid {prefix / 'nginx.pid'};"),
            ("/var/log/nginx/error.log", log),
            # The machine's conf.d is not part of the deployment.
            ("include /etc/nginx/conf.d/*.conf;", temp_paths),
            ("include /etc/nginx/sites-enabled/*;", f"include {prefix / 'sites-enabled'}/*.conf;"),
        ],
        "nginx.conf",
    )
    (prefix / "nginx.conf").write_text(main)
    snippet = (DEPLOY / "nginx" / "tnr-intake-proxy.conf").read_text()
    if ports is not None:
        # $host drops the port, which is right on 443 and on the onion's 80
        # but not on the test's ports: the app would build its redirects
        # without them. $http_host is the name and port the client sent.
        snippet = substitute(snippet, [("Host $host;", "Host $http_host;")], "tnr-intake-proxy.conf")
    (prefix / "snippets" / "tnr-intake-proxy.conf").write_text(snippet)

    intake = [
        ("/var/log/nginx/error.log", log),
        ("/etc/letsencrypt/live/intake.example.org/fullchain.pem", str(certificate.cert)),
        ("/etc/letsencrypt/live/intake.example.org/privkey.pem", str(certificate.key)),
        ("/etc/nginx/snippets/", f"{prefix / 'snippets'}/"),
    ]
    console = [
        ("/var/log/nginx/error.log", log),
        ("/etc/ssl/tnr/console.example.org.crt", str(certificate.cert)),
        ("/etc/ssl/tnr/console.example.org.key", str(certificate.key)),
    ]
    if ports is not None:
        intake += [
            ("server 127.0.0.1:5000;", f"server 127.0.0.1:{ports.intake_gunicorn};"),
            ("listen 80;", f"listen 127.0.0.1:{ports.intake_http};"),
            ("listen [::]:80;", ""),
            ("listen 443 ssl http2;", f"listen 127.0.0.1:{ports.intake_https} ssl http2;"),
            ("listen [::]:443 ssl http2;", ""),
            ("listen 127.0.0.1:8080;", f"listen 127.0.0.1:{ports.intake_onion};"),
            # The servers that close every request for another name.
            ("listen 80 default_server;", f"listen 127.0.0.1:{ports.intake_http} default_server;"),
            ("listen [::]:80 default_server;", ""),
            (
                "listen 443 ssl http2 default_server;",
                f"listen 127.0.0.1:{ports.intake_https} ssl http2 default_server;",
            ),
            ("listen [::]:443 ssl http2 default_server;", ""),
            (
                "listen 127.0.0.1:8080 default_server;",
                f"listen 127.0.0.1:{ports.intake_onion} default_server;",
            ),
            (f"server_name {SHIPPED_ONION};", f"server_name {ONION};"),
            ("https://intake.example.org$request_uri", f"https://{HOST}:{ports.intake_https}$request_uri"),
            ("server_name intake.example.org;", f"server_name {HOST};"),
        ]
        console += [
            ("Host $host;", "Host $http_host;"),  # as in the snippet above
            ("server 127.0.0.1:5000;", f"server 127.0.0.1:{ports.console_gunicorn};"),
            ("listen 10.0.0.5:80;", f"listen 127.0.0.1:{ports.console_http};"),
            ("listen 10.0.0.5:443 ssl http2;", f"listen 127.0.0.1:{ports.console_https} ssl http2;"),
            ("listen 10.0.0.5:80 default_server;", f"listen 127.0.0.1:{ports.console_http} default_server;"),
            (
                "listen 10.0.0.5:443 ssl http2 default_server;",
                f"listen 127.0.0.1:{ports.console_https} ssl http2 default_server;",
            ),
            ("https://console.example.org$request_uri", f"https://{HOST}:{ports.console_https}$request_uri"),
            ("server_name console.example.org;", f"server_name {HOST};"),
        ]
    for name, replacements in (("tnr-intake.conf", intake), ("tnr-console.conf", console)):
        text = substitute((DEPLOY / "nginx" / name).read_text(), replacements, name)
        (prefix / "sites-enabled" / name).write_text(text)
    return prefix / "nginx.conf"


def nginx_command(nginx: str, prefix: Path, *args: str) -> list[str]:
    """``nginx`` on the rendered files, with its start-up log in ``prefix``."""
    log = str(prefix / "logs" / "error.log")
    return [nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", log, *args]


@dataclass
class Nginx:
    """A running nginx on the rendered files (foreground, own prefix)."""

    prefix: Path
    process: subprocess.Popen[bytes]
    output: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: lets requests end
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def temporary_files(self) -> list[str]:
        """Files nginx's processes hold open in its temporary folders. nginx
        unlinks a spooled request body as soon as it creates it, so the
        folder looks empty while the bytes are on disk: its open file
        descriptors (``/proc``) show them, "(deleted)" included."""
        temp = str(self.prefix / "temp")
        master = self.process.pid
        children = Path(f"/proc/{master}/task/{master}/children")
        pids = [master, *(int(p) for p in children.read_text().split())] if children.exists() else [master]
        held = []
        for pid in pids:
            try:
                descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
            except OSError:
                continue
            for fd in descriptors:
                try:
                    target = os.readlink(fd)
                except OSError:
                    continue
                if target.startswith(temp):
                    held.append(target)
        return held

    def written_files(self) -> list[Path]:
        """Every file nginx wrote: logs and temporary folders."""
        return [p for sub in ("logs", "temp") for p in (self.prefix / sub).rglob("*") if p.is_file()]


def start_nginx(nginx: str, prefix: Path, ports: Ports) -> Nginx:
    """Start nginx on the files :func:`render_nginx` wrote, in the
    foreground, and wait until every site accepts connections."""
    output = prefix / "nginx.out"
    with output.open("wb") as fh:
        process = subprocess.Popen(
            nginx_command(nginx, prefix, "-g", "daemon off;"), stdout=fh, stderr=subprocess.STDOUT
        )
    wanted = [
        ports.intake_http,
        ports.intake_https,
        ports.intake_onion,
        ports.console_http,
        ports.console_https,
    ]
    deadline = time.monotonic() + 30
    while wanted:
        try:
            socket.create_connection(("127.0.0.1", wanted[0]), timeout=1).close()
            wanted.pop(0)
            continue
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"nginx did not start: {output.read_text(errors='replace')[-3000:]}")
        time.sleep(0.05)
    return Nginx(prefix, process, output)


def render_torrc(directory: Path) -> Path:
    """The shipped torrc with its onion-service folder under ``directory``
    (mode 0700, as Tor wants it)."""
    hidden = directory / "tnr-intake"
    hidden.mkdir(mode=0o700, parents=True, exist_ok=True)
    replacements = [("HiddenServiceDir /var/lib/tor/tnr-intake/", f"HiddenServiceDir {hidden}/")]
    text = substitute((DEPLOY / "tor" / "torrc").read_text(), replacements, "torrc")
    path = directory / "torrc"
    path.write_text(text)
    return path


def env_file(name: str) -> dict[str, str]:
    """The settings of ``deploy/env/<name>`` (``KEY=value`` lines)."""
    values = {}
    for line in (DEPLOY / "env" / name).read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def unit_exec_start(name: str) -> list[str]:
    """The ``ExecStart=`` command of ``deploy/systemd/<name>``, split."""
    for line in (DEPLOY / "systemd" / name).read_text().splitlines():
        if line.startswith("ExecStart="):
            return line.removeprefix("ExecStart=").split()
    raise AssertionError(f"{name} has no ExecStart=")
