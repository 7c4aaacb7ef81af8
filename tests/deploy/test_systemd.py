"""deploy/outbound.service: systemd accepts it as written (``systemd-analyze verify``, every
warning counted as a failure), it is hardened as docs/deploy.md says, and it names only real
settings."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from outbound.server.config import SECRET_SETTINGS, SETTINGS, env_name

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "outbound.service"
INSTALLED = "/opt/outbound/bin/outbound"  # where the unit's comment installs the command


def directives() -> dict[str, list[str]]:
    """Each ``Key=value`` of the [Service] section, every value of repeated keys."""
    found: dict[str, list[str]] = {}
    section = ""
    for line in UNIT.read_text().splitlines():
        if line.startswith("["):
            section = line.strip("[]")
        elif section == "Service" and "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


def verify(text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (Debian: apt-get install systemd)")
    unit = tmp_path / "outbound.service"
    # The command as installed on this machine: verify checks that ExecStart is executable.
    unit.write_text(text.replace(INSTALLED, str(Path(sys.executable).parent / "outbound")))
    return subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )


def test_systemd_accepts_the_unit_without_a_warning(tmp_path: Path) -> None:
    done = verify(UNIT.read_text(), tmp_path)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")
    # ... and would say so of a directive it does not know (it still exits 0 for those).
    done = verify(UNIT.read_text().replace("PrivateTmp=yes", "PrivateTemp=yes"), tmp_path)
    assert "Unknown key 'PrivateTemp'" in done.stderr


def test_systemd_rates_the_unit_well_exposed(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (Debian: apt-get install systemd)")
    done = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", str(UNIT)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    score = re.search(r"Overall exposure level for outbound.service: ([\d.]+)", done.stdout)
    assert score is not None, done.stdout + done.stderr
    assert float(score.group(1)) <= 2.0  # systemd's "OK" band; 1.4 when written


def test_the_unit_is_hardened() -> None:
    found = directives()
    for key, value in {
        "DynamicUser": "yes",
        "StateDirectory": "outbound",
        "ProtectSystem": "strict",
        "NoNewPrivileges": "yes",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
        "CapabilityBoundingSet": "",
        "KillSignal": "SIGTERM",
    }.items():
        assert found.get(key) == [value], key
    # The master key is a credential read from a file, not an environment value.
    assert found["LoadCredential"] == ["master-key:/etc/outbound/master-key"]
    assert "OUTBOUND_MASTER_KEY=" not in UNIT.read_text()


def test_the_unit_names_only_real_settings() -> None:
    known = {env_name(name) for name in SETTINGS}
    known |= {env_name(name) + "_FILE" for name in SECRET_SETTINGS}
    named = set(re.findall(r"\b(OUTBOUND_[A-Z_]+)=", UNIT.read_text()))
    assert named and named <= known, named - known
