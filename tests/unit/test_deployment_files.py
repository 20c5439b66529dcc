"""The compose file, ``.env.example`` and the Procfile, checked by reading (no Docker engine
here)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
WEB_PORT = "8000:8000"  # the only port published beyond this machine
LOOPBACK = ("127.0.0.1", "::1", "[::1]")
# Variables whose value is a credential (or holds one, like a URL with a password).
SECRET_NAME = re.compile(
    r"PASSWORD|SECRET|TOKEN|ENCRYPTION_KEY|OLD_KEYS|BASIC_AUTH|CONSOLE_USERS|WEBHOOK_URL|SMTP_URL"
)
EXAMPLE_VALUE = re.compile(
    r"change-?me|^admin$|^password$|^secret$|^guest$|^root$|^test$|^demo$|^(admin|ops|user):",
    re.IGNORECASE,
)
INTERPOLATION = re.compile(r"\$\{(\w+)(:?[-?+])?([^}]*)\}")


def published_beyond_loopback(compose: dict[str, Any]) -> list[str]:
    """Every port a service publishes on an interface other than loopback, as service: port
    (the web app's 8000 excepted); a bare container port is published on every interface."""
    found = []
    for name, service in compose["services"].items():
        if service.get("network_mode") == "host":
            found.append(f"{name}: network_mode host")
        for port in service.get("ports", []):
            if isinstance(port, dict):  # the long syntax
                if str(port.get("host_ip", "")) not in LOOPBACK:
                    found.append(f"{name}: {port}")
                continue
            text = str(port)
            if name == "web" and text == WEB_PORT:
                continue
            if not text.startswith(tuple(f"{address}:" for address in LOOPBACK)):
                found.append(f"{name}: {text}")
    return found


def usable_defaults(compose_text: str, env_example_text: str) -> list[str]:
    """Every secret given a value someone could leave in place: ``${SECRET:-default}`` in the
    compose file, a literal credential in a service's environment, a filled-in secret (or an
    example value of any variable) in ``.env.example``."""
    found = []
    for name, operator, value in INTERPOLATION.findall(compose_text):
        if SECRET_NAME.search(name) and operator in ("-", ":-", "+", ":+"):
            found.append(f"compose: ${{{name}{operator}{value}}}")
    for name, service in (yaml.safe_load(compose_text).get("services") or {}).items():
        environment = service.get("environment") or {}
        if isinstance(environment, list):
            environment = dict(item.partition("=")[::2] for item in environment)
        for key, value in environment.items():
            text = str(value)
            required = re.fullmatch(rf"\$\{{{key}:\?[^}}]+\}}", text)
            from_file = key.endswith("_FILE") and text.startswith("/run/secrets/")
            if SECRET_NAME.search(key) and not (required or from_file):
                found.append(f"compose {name}: {key}={text}")
        command = " ".join(map(str, service.get("command") or []))
        if re.search(r"--(basic[-_]auth|password)[= ]", command):
            found.append(f"compose {name}: a credential in the command")
    for line in env_example_text.splitlines():
        match = re.fullmatch(r"#?\s*([A-Z][A-Z0-9_]*)=(\S*).*", line.strip())
        if not match:
            continue
        name, value = match.groups()
        if (SECRET_NAME.search(name) and value) or EXAMPLE_VALUE.search(value):
            found.append(f".env.example: {name}={value}")
    return found


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
    assert services["flower"]["command"][:2] == ["metasync", "flower"]
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


def test_compose_publishes_nothing_but_the_web_app_beyond_this_machine() -> None:
    """Before: Flower (5555) and the sandbox (8765) were published on every interface."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert published_beyond_loopback(compose) == []
    assert compose["services"]["web"]["ports"] == [WEB_PORT]
    assert compose["services"]["flower"]["ports"] == ["127.0.0.1:5555:5555"]


def test_the_checks_see_what_they_are_meant_to_refuse() -> None:
    compose = {
        "services": {
            "flower": {"ports": ["5555:5555", "5556", {"target": 1, "published": 2}]},
            "web": {"ports": [WEB_PORT, "0.0.0.0:8001:8001"]},
            "tool": {"network_mode": "host"},
        }
    }
    assert published_beyond_loopback(compose) == [
        "flower: 5555:5555",
        "flower: 5556",
        "flower: {'target': 1, 'published': 2}",
        "web: 0.0.0.0:8001:8001",
        "tool: network_mode host",
    ]
    compose_text = yaml.safe_dump(
        {
            "services": {
                "flower": {
                    "environment": {"FLOWER_BASIC_AUTH": "${FLOWER_BASIC_AUTH:-admin:change-me}"},
                    "command": ["celery", "flower", "--basic-auth=admin:admin"],
                },
                "db": {"environment": ["POSTGRES_PASSWORD=postgres"]},
            }
        },
        sort_keys=False,
    )
    env_example = "FLOWER_BASIC_AUTH=admin:change-me\n# METRICS_TOKEN=abc\nLOG_LEVEL=change-me\n"
    assert usable_defaults(compose_text, env_example) == [
        "compose: ${FLOWER_BASIC_AUTH:-admin:change-me}",
        "compose flower: FLOWER_BASIC_AUTH=${FLOWER_BASIC_AUTH:-admin:change-me}",
        "compose flower: a credential in the command",
        "compose db: POSTGRES_PASSWORD=postgres",
        ".env.example: FLOWER_BASIC_AUTH=admin:change-me",
        ".env.example: METRICS_TOKEN=abc",
        ".env.example: LOG_LEVEL=change-me",
    ]


def test_no_secret_has_a_usable_default_in_compose_or_env_example() -> None:
    """Before: ``cp .env.example .env`` set ``FLOWER_BASIC_AUTH=admin:change-me``."""
    compose_text = (ROOT / "docker-compose.yml").read_text()
    env_example = (ROOT / ".env.example").read_text()
    assert usable_defaults(compose_text, env_example) == []
    assert re.search(r"^FLOWER_BASIC_AUTH=$", env_example, re.MULTILINE)
    assert "openssl rand -hex 16" in env_example


def test_flower_runs_through_metasync_flower_which_compose_will_not_start_without_a_password() -> (
    None
):
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    flower = compose["services"]["flower"]
    # all interfaces inside the container; the host publishes the port on 127.0.0.1 only
    assert flower["command"] == ["metasync", "flower", "--host", "0.0.0.0", "--port", "5555"]  # noqa: S104
    assert re.fullmatch(
        r"\$\{FLOWER_BASIC_AUTH:\?[^}]+\}", flower["environment"]["FLOWER_BASIC_AUTH"]
    )
    assert "FLOWER_TASK_CONTROL" not in flower["environment"], "read-only"
    procfile = (ROOT / "Procfile").read_text()
    assert "flower: metasync flower --port ${FLOWER_PORT:-5555}" in procfile.splitlines()
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    (job,) = (job for job in config["scrape_configs"] if job["job_name"] == "flower")
    assert job["basic_auth"] == {
        "username": "prometheus",
        "password_file": "/run/secrets/flower_password",
    }
    assert "flower_password" in compose["services"]["prometheus"]["secrets"]
