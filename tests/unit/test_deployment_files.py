"""The compose file and Procfile, checked by reading (no Docker engine here)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_compose_services_and_their_duties() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {
        "mongodb", "redis", "worker", "beat", "flower", "web", "sandbox", "prometheus", "grafana",
        "alertmanager", "warehouse",
    }  # fmt: skip
    redis_command = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in redis_command and "--maxmemory-policy noeviction" in redis_command
    assert services["beat"]["deploy"]["replicas"] == 1
    assert "replicas" not in services["worker"].get("deploy", {})  # scalable with --scale
    assert "--basic-auth" in " ".join(services["flower"]["command"])
    assert services["sandbox"]["profiles"] == ["sandbox"]
    for name in ("worker", "beat", "flower", "web"):
        assert services[name]["environment"]["REDIS_URL"].startswith("redis://redis:")
        assert services[name]["env_file"] == ".env"
    assert set(compose["volumes"]) == {
        "mongodb-data", "redis-data", "prometheus-data", "warehouse-data",
    }  # fmt: skip
    warehouse = services["warehouse"]
    assert warehouse["profiles"] == ["warehouse"]
    assert all(port.startswith("127.0.0.1:") for port in warehouse["ports"])  # not published
    assert warehouse["environment"]["POSTGRES_PASSWORD_FILE"].startswith("/run/secrets/")


def test_monitoring_listens_on_localhost_and_grafana_takes_its_password_from_a_file() -> None:
    """Before: Prometheus (no auth) and Grafana (admin/admin) were published on every
    interface."""
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name in ("prometheus", "grafana", "alertmanager"):
        ports = services[name]["ports"]
        assert ports and all(port.startswith("127.0.0.1:") for port in ports), name
    grafana = services["grafana"]["environment"]
    assert grafana["GF_SECURITY_ADMIN_PASSWORD__FILE"] == "/run/secrets/grafana_admin_password"
    assert grafana["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert "grafana_admin_password" in services["grafana"]["secrets"]
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "alertmanager:9093"
    ]
    mounted = " ".join(services["prometheus"]["volumes"])
    assert "deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml" in mounted


def test_prometheus_scrapes_metasync_and_flower_and_grafana_shows_what_is_exported() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    mounted = " ".join(compose["services"]["prometheus"]["volumes"])
    assert "deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml" in mounted
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    targets = {
        job["job_name"]: (job["static_configs"][0]["targets"], job["metrics_path"])
        for job in config["scrape_configs"]
    }
    assert targets == {
        "metasync": (["web:8000"], "/metrics"),
        "flower": (["flower:5555"], "/metrics"),
    }
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["metasync"]["authorization"]["type"] == "Bearer", "the scrape token, not a login"
    assert "basic_auth" in jobs["flower"]
    dashboard = json.loads((ROOT / "deploy/grafana/dashboards/metasync.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    used = set(re.findall(r"\b(metasync_[a-z_0-9]+)", exprs))
    exported = set(
        re.findall(r'"(metasync_[a-z_0-9]+)"', (ROOT / "metasync/api/metrics.py").read_text())
    )
    assert used and used <= exported, used - exported
    assert exported <= used, f"exported but on no panel: {exported - used}"
    assert "flower_events_total" in exprs


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
