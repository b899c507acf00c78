"""The files in ``deploy/`` as shipped: the deployment guide shows each one
line for line, Debian's nginx and tor accept them (``nginx -t``, ``tor
--verify-config``), and they agree with each other (Tor points at nginx's
onion server, never at gunicorn; nginx's upstreams are gunicorn's binds)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from .shipped import (
    DEPLOY,
    ROOT,
    env_file,
    nginx_command,
    render_nginx,
    render_torrc,
    require_program,
    self_signed_certificate,
    unit_exec_start,
)

pytestmark = pytest.mark.db_independent

GUIDE = ROOT / "docs" / "deployment.md"


def _fenced_blocks(markdown: str) -> set[str]:
    return set(re.findall(r"^```[a-z]*\n(.*?)^```$", markdown, flags=re.DOTALL | re.MULTILINE))


def test_the_guide_shows_every_deploy_file_line_for_line() -> None:
    blocks = _fenced_blocks(GUIDE.read_text(encoding="utf-8"))
    shipped = sorted(p for p in DEPLOY.rglob("*") if p.is_file())
    assert len(shipped) >= 12
    missing = [str(p.relative_to(ROOT)) for p in shipped if p.read_text(encoding="utf-8") not in blocks]
    assert missing == [], f"docs/deployment.md does not show these files as they are: {missing}"


def test_nginx_accepts_the_shipped_files(tmp_path: Path) -> None:
    nginx = require_program("nginx")
    certificate = self_signed_certificate(tmp_path / "tls")
    # Only paths move (certificates, logs, pid, temporary folders); the
    # listening addresses and upstreams stay as shipped: -t binds nothing.
    render_nginx(tmp_path / "nginx", certificate, ports=None)
    command = nginx_command(nginx, tmp_path / "nginx", "-t")
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_tor_accepts_the_shipped_torrc_with_its_proof_of_work_defence(tmp_path: Path) -> None:
    tor = require_program("tor")
    modules = subprocess.run([tor, "--list-modules"], capture_output=True, text=True, timeout=30, check=True)
    assert "pow: yes" in modules.stdout, "this tor cannot run the onion service's proof-of-work defence"
    torrc = render_torrc(tmp_path)
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    # Debian's defaults file (a SOCKS port, User debian-tor) is not ours.
    command = [tor, "--verify-config", "--defaults-torrc", "/dev/null", "-f", str(torrc)]
    result = subprocess.run(
        [*command, "--DataDirectory", str(data)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    assert "Configuration was valid" in result.stdout
    assert re.search(r"^HiddenServicePoWDefensesEnabled 1$", torrc.read_text(), re.MULTILINE)


def test_tor_points_at_nginx_and_nginx_at_gunicorn() -> None:
    torrc = (DEPLOY / "tor" / "torrc").read_text()
    intake_site = (DEPLOY / "nginx" / "tnr-intake.conf").read_text()
    console_site = (DEPLOY / "nginx" / "tnr-console.conf").read_text()
    [target] = re.findall(r"^HiddenServicePort 80 (\S+)$", torrc, re.MULTILINE)
    intake_bind = env_file("intake.env")["GUNICORN_BIND"]
    assert target != intake_bind, "the onion service must reach nginx, never gunicorn itself"
    assert f"listen {target};" in intake_site
    assert re.findall(r"^\s*server (\S+);$", intake_site, re.MULTILINE) == [intake_bind]
    admin = env_file("admin.env")
    assert re.findall(r"^\s*server (\S+);$", console_site, re.MULTILINE) == [admin["GUNICORN_BIND"]]
    for bind in (intake_bind, admin["GUNICORN_BIND"]):
        assert bind.startswith("127.0.0.1:"), "gunicorn listens on loopback only"


def test_the_units_run_the_repository_gunicorn_config_with_the_shipped_settings() -> None:
    assert unit_exec_start("tnr-intake.service")[1:] == ["-c", "gunicorn.conf.py", "wsgi:intake"]
    assert unit_exec_start("tnr-console.service")[1:] == ["-c", "gunicorn.conf.py", "wsgi:admin"]
    for unit, env in (("tnr-intake.service", "intake.env"), ("tnr-console.service", "admin.env")):
        assert f"EnvironmentFile=/etc/tnr/{env}\n" in (DEPLOY / "systemd" / unit).read_text()
    admin = env_file("admin.env")
    # One console process: the unlocked key lives in its memory.
    assert admin["GUNICORN_WORKERS"] == "1"
    # The console's production settings are all there.
    assert admin["ADMIN_SESSION_COOKIE_SECURE"] == "true"
    assert admin["ADMIN_WEBAUTHN_ORIGIN"] == f"https://{admin['ADMIN_WEBAUTHN_RP_ID']}"
    # No access log, anywhere nginx could write one.
    for name in ("nginx.conf", "tnr-intake.conf", "tnr-console.conf"):
        text = (DEPLOY / "nginx" / name).read_text()
        assert not re.search(r"^\s*access_log (?!off;)", text, re.MULTILINE), name
