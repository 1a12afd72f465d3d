"""The agent's Prometheus endpoint: scraped directly, by a real Prometheus server, and
the example alert rule checked (and unit-tested) with promtool."""

from __future__ import annotations

import inspect
import json
import logging
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO, start_target, terminate

pytest.importorskip("prometheus_client")

from prometheus_client.openmetrics.parser import text_string_to_metric_families  # noqa: E402

from leakscope.target import metrics  # noqa: E402

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
ALERTS = REPO / "docs" / "alerts.yml"
OPENMETRICS = "application/openmetrics-text; version=1.0.0"

# A target that starts the agent and the metrics endpoint, then grows on request.
TARGET = """
import os, sys
import leakscope.agent
from leakscope.target.metrics import start_metrics
from leakscope.trackref import object_ref, owner

class Widget(object_ref):
    pass

class Job(object_ref):
    pass

KEEP = [Widget() for _ in range(10)]
with owner("queue"):
    KEEP += [Job() for _ in range(3)]

class Job(object_ref):  # a second class of the same name (as after a reload)
    pass

with owner("queue"):
    KEEP += [Job() for _ in range(2)]
leakscope.agent.start()
print(start_metrics(os.environ["METRICS_ADDRESS"]), flush=True)
for line in sys.stdin:
    if line.startswith("grow"):
        KEEP += [Widget() for _ in range(int(line.split()[1]))]
    print("ok", flush=True)
"""


@dataclass
class MetricsTarget:
    proc: subprocess.Popen[str]
    address: str

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "ok"


@pytest.fixture
def metrics_target(socket_dir: Path, tmp_path: Path) -> Iterator[MetricsTarget]:
    script = tmp_path / "metrics_target.py"
    script.write_text(TARGET)
    target = start_target(script, env={"METRICS_ADDRESS": "127.0.0.1:0"})
    try:
        yield MetricsTarget(target.proc, target.socket)  # its first line is the address
    finally:
        target.stop()


def scrape(address: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of one OpenMetrics scrape, by (name, sorted labels)."""
    request = urllib.request.Request(f"http://{address}/metrics", headers={"Accept": OPENMETRICS})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("application/openmetrics-text")
        text = response.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def live(samples: dict, cls: str) -> float | None:
    key = ("leakscope_live_objects", (("class", cls), ("source", "leakscope")))
    return samples.get(key)


def test_scrape_reads_the_registry(metrics_target):
    samples = scrape(metrics_target.address)
    assert live(samples, "__main__.Widget") == 10
    # Two classes named __main__.Job share one series (duplicates would fail the scrape).
    assert live(samples, "__main__.Job") == 5
    owned = {k[1]: v for k, v in samples.items() if k[0] == "leakscope_owner_live_objects"}
    # Only owned objects have owner rows: Widgets were made outside any owner.
    assert owned == {(("class", "__main__.Job"), ("owner", "queue")): 5}
    age = samples[
        (
            "leakscope_oldest_age_seconds",
            (("class", "__main__.Widget"),) + (("source", "leakscope"),),
        )
    ]
    assert 0 <= age < 60
    assert samples[("leakscope_pymalloc_arenas", ())] > 0
    assert samples[("leakscope_allocated_blocks", ())] > 1000
    assert samples[("process_resident_memory_bytes", ())] > 1_000_000
    metrics_target.send("grow 7")
    assert live(scrape(metrics_target.address), "__main__.Widget") == 17


@pytest.mark.slow
def test_endpoint_never_writes_to_the_host(metrics_target):
    host, port = metrics_target.address.rsplit(":", 1)
    # Garbage, a client that hangs up mid-request, and a request for another path.
    with socket.create_connection((host, int(port))) as s:
        s.sendall(b"\x00\x01garbage\r\n\r\n")
        s.recv(100)
    with socket.create_connection((host, int(port))) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
    urllib.request.urlopen(f"http://{metrics_target.address}/other", timeout=10).read()
    assert live(scrape(metrics_target.address), "__main__.Widget") == 10
    metrics_target.proc.stdin.close()
    assert metrics_target.proc.wait(timeout=10) == 0
    assert metrics_target.proc.stderr.read() == ""


@pytest.mark.slow
def test_loopback_only_unless_allowed(monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="leakscope.agent")
    monkeypatch.delenv("LEAKSCOPE_METRICS_ALLOW_REMOTE", raising=False)
    try:
        assert metrics.start_metrics("0.0.0.0:0") is None
        assert "not loopback" in caplog.text and "LEAKSCOPE_METRICS_ALLOW_REMOTE" in caplog.text
        assert metrics.metrics_address() is None
        bound = metrics.start_metrics(":0")  # no host: loopback
        assert bound is not None and bound.startswith("127.0.0.1:")
        assert f"serving http://{bound}/metrics" in caplog.text
        assert metrics.start_metrics("127.0.0.1:0") == bound  # idempotent
        metrics.stop_metrics()
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", int(bound.rsplit(":", 1)[1])), timeout=2)
        monkeypatch.setenv("LEAKSCOPE_METRICS_ALLOW_REMOTE", "1")
        anywhere = metrics.start_metrics("0.0.0.0:0")
        assert anywhere is not None and anywhere.startswith("0.0.0.0:")
    finally:
        metrics.stop_metrics()


def test_bad_addresses_are_logged_never_raised(caplog):
    caplog.set_level(logging.WARNING, logger="leakscope.agent")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        for address in ("", "nonsense", "127.0.0.1:99999", "1:2:3", f"127.0.0.1:{taken}"):
            assert metrics.start_metrics(address) is None, address
    assert "cannot listen on" in caplog.text and "bad metrics address" in caplog.text
    assert metrics.parse_address("[::1]:9464") == ("::1", 9464)
    assert metrics.parse_address("9464") == ("127.0.0.1", 9464)


@pytest.mark.slow
@pytest.mark.skipif(
    "metrics" not in inspect.signature(__import__("leakscope.agent").agent.start).parameters,
    reason="leakscope.agent.start() does not take metrics= yet",
)
def test_agent_start_serves_metrics_from_the_environment(target_factory):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    target_factory("basic", "4", "2", env={"LEAKSCOPE_METRICS": f"127.0.0.1:{port}"})
    deadline = time.monotonic() + 10
    while True:
        try:
            samples = scrape(f"127.0.0.1:{port}")
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    assert live(samples, "__main__.Widget") == 4


# -- a real Prometheus -----------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _query(port: int, expr: str) -> list[dict]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as response:
        data = json.loads(response.read())
    assert data["status"] == "success", data
    return data["data"]["result"]


def _wait_for_value(port: int, expr: str, want: float, timeout: float = 30) -> list[dict]:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            result = _query(port, expr)
        except OSError as exc:  # not listening yet
            last = exc
        else:
            last = result
            if result and float(result[0]["value"][1]) == want:
                return result
        time.sleep(0.3)
    raise AssertionError(f"{expr} never became {want}: {last}")


@pytest.fixture
def prometheus(tmp_path: Path, metrics_target: MetricsTarget) -> Iterator[int]:
    if not os.path.exists(PROMETHEUS):
        pytest.skip("prometheus not installed (apt-get install prometheus)")
    port = _free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n  - job_name: app\n    static_configs:\n"
        f"      - targets: ['{metrics_target.address}']\n"
    )
    proc = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield port
    finally:
        terminate(proc)


@pytest.mark.slow
def test_prometheus_scrapes_the_agent(prometheus, metrics_target):
    widget = 'leakscope_live_objects{class="__main__.Widget",job="app"}'
    result = _wait_for_value(prometheus, widget, 10)
    assert result[0]["metric"]["source"] == "leakscope"
    owned = _query(prometheus, 'leakscope_owner_live_objects{owner="queue"}')
    assert [(r["metric"]["class"], r["value"][1]) for r in owned] == [("__main__.Job", "5")]
    assert float(_query(prometheus, "process_resident_memory_bytes")[0]["value"][1]) > 1e6
    metrics_target.send("grow 5")
    _wait_for_value(prometheus, widget, 15)


# -- the example alert rule ------------------------------------------------------

ALERT_TEST = """
rule_files: [{rules}]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'leakscope_live_objects{{class="app.Session",{labels}}}'
        values: '0+10x90'
      - series: 'leakscope_live_objects{{class="app.Widget",{labels}}}'
        values: '500x90'
    alert_rule_test:
      - eval_time: 45m
        alertname: LeakscopeLiveObjectsGrowing
        exp_alerts: []
      - eval_time: 70m
        alertname: LeakscopeLiveObjectsGrowing
        exp_alerts:
          - exp_labels:
              severity: warning
              class: app.Session
              source: leakscope
              instance: app:9464
              job: app
            exp_annotations:
              summary: "app.Session objects grew for 30 minutes on app:9464"
              description: "300 more live app.Session objects than 30 minutes ago.
                See what holds the oldest one: leakscope oldest app.Session --why --pid PID"
"""


@pytest.mark.skipif(not os.path.exists(PROMTOOL), reason="promtool not installed")
def test_alert_rule_checks_and_fires_only_on_growth(tmp_path):
    check = subprocess.run(
        [PROMTOOL, "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=30
    )
    assert check.returncode == 0, check.stdout + check.stderr
    unit = tmp_path / "alerts_test.yml"
    labels = 'source="leakscope",instance="app:9464",job="app"'
    unit.write_text(ALERT_TEST.format(rules=ALERTS, labels=labels))
    test = subprocess.run(
        [PROMTOOL, "test", "rules", str(unit)], capture_output=True, text=True, timeout=30
    )
    assert test.returncode == 0, test.stdout + test.stderr
