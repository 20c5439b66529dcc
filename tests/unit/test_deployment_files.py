"""The compose file and Procfile, checked by reading (no Docker engine here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_compose_services_and_their_duties() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"mongodb", "redis", "worker", "beat", "flower", "web", "sandbox"}
    redis_command = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in redis_command and "--maxmemory-policy noeviction" in redis_command
    assert services["beat"]["deploy"]["replicas"] == 1
    assert "replicas" not in services["worker"].get("deploy", {})  # scalable with --scale
    assert "--basic-auth" in " ".join(services["flower"]["command"])
    assert services["sandbox"]["profiles"] == ["sandbox"]
    for name in ("worker", "beat", "flower", "web"):
        assert services[name]["environment"]["REDIS_URL"].startswith("redis://redis:")
        assert services[name]["env_file"] == ".env"
    assert set(compose["volumes"]) == {"mongodb-data", "redis-data"}


def test_procfile_declares_the_four_processes() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "honcho"), "check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    names = [
        line.split(":", 1)[0]
        for line in (ROOT / "Procfile").read_text().splitlines()
        if line.strip()
    ]
    assert names == ["web", "worker", "beat", "flower"]
