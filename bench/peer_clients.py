"""The connectors people use today, run unmodified against the sandbox.

Airbyte's ``source-facebook-marketing`` and singer-io's ``tap-facebook`` are installed from PyPI,
pinned, each in a virtual environment of its own (they pin conflicting dependencies), cached under
``$METASYNC_PEERS_DIR`` (default ``~/.cache/metasync-peers``). The only shim is the launcher's
first line: Meta's SDK's ``FacebookSession.GRAPH`` points at the sandbox instead of
graph.facebook.com. Neither connector sends ``appsecret_proof``, so they read an app without
"Require App Secret" (``start_sandbox(require_appsecret_proof=False)``).

Used by the slow end-to-end tests (``tests/e2e/test_peers.py``) and by ``bench/peers.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

__all__ = [
    "PEERS",
    "PeerRun",
    "ensure_peer",
    "run_airbyte",
    "run_singer",
    "score_against_truth",
]

PEERS = {
    "airbyte": "airbyte-source-facebook-marketing==6.1.9",
    "singer": "tap-facebook==1.26.0",
}
HIDDEN = ("ARCHIVED", "DELETED")
LAUNCHER = """
import sys
from facebook_business.session import FacebookSession
FacebookSession.GRAPH = sys.argv.pop(1)  # the only shim: Meta's host -> the sandbox
if sys.argv.pop(1) == "airbyte":
    from source_facebook_marketing.run import run
    run()
else:
    from tap_facebook import main
    main()
"""
# stream names -> the sandbox's ground-truth keys
AIRBYTE_STREAMS = {
    "campaigns": "campaigns",
    "ad_sets": "adsets",
    "ads": "ads",
    "ad_creatives": "adcreatives",
}
SINGER_STREAMS = {
    "campaigns": "campaigns",
    "adsets": "adsets",
    "ads": "ads",
    "adcreative": "adcreatives",
}


def _peers_dir() -> Path:
    return Path(os.environ.get("METASYNC_PEERS_DIR", Path.home() / ".cache" / "metasync-peers"))


def ensure_peer(name: str) -> Path:
    """The Python of ``name``'s own virtual environment, created and installed on first use
    (a few minutes for Airbyte's connector; later calls reuse it)."""
    pin = PEERS[name]
    venv = _peers_dir() / pin.replace("==", "-")
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    if not stamp.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", pin],
            check=True,
        )
        stamp.touch()
    return python


@dataclass
class PeerRun:
    """What one connector read: records per stream, its errors, and how long it took."""

    name: str
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    exit_codes: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and all(code == 0 for code in self.exit_codes)

    def counts(self) -> dict[str, int]:
        return {stream: len(rows) for stream, rows in self.records.items()}


def _run(
    python: Path, graph: str, which: str, args: list[str], workdir: Path, label: str
) -> tuple[int, Path]:
    launcher = workdir / "launch.py"
    launcher.write_text(LAUNCHER)
    out, err = workdir / f"{label}.out", workdir / f"{label}.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        done = subprocess.run(  # fixed argv, no shell
            [str(python), str(launcher), graph, which, *args],
            stdout=stdout,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            cwd=workdir,
            check=False,
            timeout=1800,
        )
    return done.returncode, out


def _messages(path: Path) -> Iterable[dict[str, Any]]:
    for line in path.read_text().splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict):
            yield message


def run_airbyte(
    graph: str,
    token: str,
    accounts: list[str],
    first: date,
    last: date,
    workdir: Path,
    insights_streams: tuple[str, ...] = ("ads_insights",),
    entity_streams: bool = True,
) -> PeerRun:
    """Airbyte's connector, as a user would configure it for every object and daily rows from
    ``first`` to ``last``: two reads, because its ``start_date`` also filters objects by
    ``updated_time`` (objects older than the insights range would be left out).
    ``insights_streams``: which of its insights streams the second read selects (its prebuilt
    breakdown streams too); ``entity_streams=False`` skips the first read."""
    python = ensure_peer("airbyte")
    workdir.mkdir(parents=True, exist_ok=True)
    run = PeerRun("airbyte")
    base = {
        "account_ids": [a.removeprefix("act_") for a in accounts],
        "credentials": {"auth_type": "Service", "access_token": token},
        "page_size": 100,
        "fetch_thumbnail_images": False,
    }
    (workdir / "entities.json").write_text(json.dumps(base))
    insights_config = {
        **base,
        "start_date": f"{first.isoformat()}T00:00:00Z",
        "end_date": f"{last.isoformat()}T00:00:00Z",
        "insights_lookback_window": 1,
    }
    (workdir / "insights.json").write_text(json.dumps(insights_config))
    started = time.monotonic()
    code, out = _run(
        python, graph, "airbyte", ["discover", "--config", "entities.json"], workdir, "discover"
    )
    run.exit_codes.append(code)
    catalog = next((m["catalog"] for m in _messages(out) if m.get("type") == "CATALOG"), None)
    if catalog is None:
        run.errors.append(f"discover gave no catalog (exit {code}); see {out}")
        return run
    streams = {s["name"]: s for s in catalog["streams"]}
    for label, config, names in (
        ("entities", "entities.json", list(AIRBYTE_STREAMS) if entity_streams else []),
        ("insights", "insights.json", list(insights_streams)),
    ):
        if not names:
            continue
        configured = {
            "streams": [
                {
                    "stream": streams[n],
                    "sync_mode": "full_refresh",
                    "destination_sync_mode": "overwrite",
                }
                for n in names
            ]
        }
        (workdir / f"catalog-{label}.json").write_text(json.dumps(configured))
        code, out = _run(
            python,
            graph,
            "airbyte",
            ["read", "--config", config, "--catalog", f"catalog-{label}.json"],
            workdir,
            label,
        )
        run.exit_codes.append(code)
        for message in _messages(out):
            if message.get("type") == "RECORD":
                record = message["record"]
                run.records.setdefault(record["stream"], []).append(record["data"])
            elif message.get("type") == "TRACE" and message["trace"].get("type") == "ERROR":
                run.errors.append(str(message["trace"]["error"].get("message"))[:500])
    run.seconds = time.monotonic() - started
    return run


def run_singer(
    graph: str, token: str, accounts: list[str], first: date, last: date, workdir: Path
) -> PeerRun:
    """singer-io's tap, one run per ad account (it reads one account per configuration), for
    every object and daily rows from ``first`` to ``last`` (no insights buffer days)."""
    python = ensure_peer("singer")
    workdir.mkdir(parents=True, exist_ok=True)
    run = PeerRun("singer")
    started = time.monotonic()
    for account in accounts:
        number = account.removeprefix("act_")
        config = {
            "account_id": number,
            "access_token": token,
            "start_date": f"{first.isoformat()}T00:00:00Z",
            "end_date": f"{last.isoformat()}T00:00:00Z",
            "insights_buffer_days": 1,
            "result_return_limit": 100,
        }
        (workdir / f"config-{number}.json").write_text(json.dumps(config))
        args = ["--config", f"config-{number}.json", "--discover"]
        code, out = _run(python, graph, "singer", args, workdir, f"discover-{number}")
        run.exit_codes.append(code)
        try:
            catalog = json.loads(out.read_text())
        except ValueError:
            run.errors.append(f"discover of {account} gave no catalog (exit {code})")
            continue
        wanted = {*SINGER_STREAMS, "ads_insights"}
        streams = [s for s in catalog["streams"] if s["tap_stream_id"] in wanted]
        for stream in streams:
            for entry in stream["metadata"]:
                entry["metadata"]["selected"] = True
        (workdir / f"properties-{number}.json").write_text(json.dumps({"streams": streams}))
        args = ["--config", f"config-{number}.json", "--properties", f"properties-{number}.json"]
        code, out = _run(python, graph, "singer", args, workdir, f"sync-{number}")
        run.exit_codes.append(code)
        if code != 0:
            tail = (workdir / f"sync-{number}.err").read_text().strip().splitlines()[-1:]
            run.errors.append(f"tap-facebook on {account} exited {code}: {' '.join(tail)}")
        for message in _messages(out):
            if message.get("type") == "RECORD":
                run.records.setdefault(message["stream"], []).append(message["record"])
    run.seconds = time.monotonic() - started
    return run


def score_against_truth(
    run: PeerRun,
    truth: dict[str, Any],
    accounts: list[str],
    first: date,
    last: date,
    *,
    streams: dict[str, str],
    insights_stream: str,
) -> dict[str, Any]:
    """How much of the ground truth a run read: per object kind and for ad-level daily rows in
    [first, last], live and archived/deleted separately, plus rows or objects it invented."""
    numbers = {a.removeprefix("act_") for a in accounts}
    score: dict[str, Any] = {}
    for stream, key in streams.items():
        objects = [o for o in truth[key] if o["account_id"] in numbers]
        hidden = {o["id"] for o in objects if o.get("effective_status") in HIDDEN}
        read = {str(r.get("id")) for r in run.records.get(stream, [])}
        expected = {o["id"] for o in objects}
        score[key] = {
            "expected": len(expected - hidden),
            "read": len((read & expected) - hidden),
            "expected_hidden": len(hidden),
            "read_hidden": len(read & hidden),
            "unknown": len(read - expected),
        }
    status = {ad["id"]: ad.get("effective_status") for ad in truth["ads"]}
    every = {
        (r["ad_id"], r["date_start"]) for r in truth["insights"]["ad"] if r["account_id"] in numbers
    }
    expected_rows = {key for key in every if first.isoformat() <= key[1] <= last.isoformat()}
    hidden_rows = {key for key in expected_rows if status[key[0]] in HIDDEN}
    read_rows = Counter(  # singer writes dates as date-times: compare the day
        (str(r.get("ad_id")), str(r.get("date_start"))[:10])
        for r in run.records.get(insights_stream, [])
    )
    score["daily_rows"] = {
        "expected": len(expected_rows - hidden_rows),
        "read": len((set(read_rows) & expected_rows) - hidden_rows),
        "expected_hidden": len(hidden_rows),
        "read_hidden": len(set(read_rows) & hidden_rows),
        "unknown": len(set(read_rows) - every),
        "duplicates": sum(n - 1 for n in read_rows.values() if n > 1),
    }
    return score
