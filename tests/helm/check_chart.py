#!/usr/bin/env python3
"""Tests of the Helm chart in helm/, run by scripts/test-helm.sh.

1. `helm lint --strict` with the chart defaults, every store file (helm/stores/*.yaml)
   and every scenario (tests/helm/scenarios/*.yaml).
2. `helm template` of each, validated offline by kubernetes-validate in strict mode
   against the Kubernetes version k3s runs.
3. Invariants asserted on every rendered manifest set: hardened, limited, probed
   containers; only the kiosk exposed; a default-deny NetworkPolicy plus exactly the
   service edges of ARCHITECTURE.md (every edge allowed, every other pair denied); each
   service's config file accepted by the services' config rules; models verified before
   a service starts; scenario-specific expectations.
4. Every file of tests/helm/bad/ is rejected by `helm template` with the message its
   first line names (`# expect: ...`).
5. A model version is a values change that rolls that service's Deployment and no other.
6. The chart and the code agree: ports (services/protocol/src/service.rs), config keys
   (services/service-kit/src/config.rs, against values.schema.json), and every rendered
   config.toml is accepted by a real service binary's config loader when one is built.
7. docker/*.Dockerfile: static checks (multi-stage, one crate, non-root, no models).

Needs PyYAML (installed with kubernetes-validate) and Python 3.11 (tomllib).
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import yaml

# libyaml's parser when PyYAML has it (the wheels do): ten times faster on 500 manifests.
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm"
SERVICES = ["kiosk", "voice", "vision", "dialogue", "catalog", "tryon"]
# Services that keep no state between requests: the only ones with replicas > 1 or an HPA.
STATELESS = {"kiosk", "voice", "vision", "tryon"}
# ARCHITECTURE.md: caller -> callees (tryon -> vision only with networkPolicy.tryonToVision).
EDGES = {
    "kiosk": ["voice", "vision", "dialogue", "catalog", "tryon"],
    "dialogue": ["catalog"],
    "vision": ["catalog"],
    "tryon": ["catalog"],
}
QDRANT_PORTS = {"http": 6333, "grpc": 6334, "p2p": 6335}
# Keys of the config that are secrets: never in a ConfigMap.
SECRET_KEYS = {"admin_key", "service_token", "qdrant_api_key", "remote_api_key"}
# Config keys the chart sets itself (not in values.schema.json's config blocks).
CHART_OWNED = {
    "*": {"host", "port", "url", "remote_api_key"},
    "catalog": {"store", "qdrant_url", "qdrant_api_key", "collection_prefix", "admin_key",
                "service_token", "seed_file"},
}


class Checks:
    """Counts passed assertions and collects failures with their context."""

    def __init__(self) -> None:
        self.passed = 0
        self.failures: list[str] = []
        self.context = ""

    def ok(self, condition: bool, message: str) -> bool:
        if condition:
            self.passed += 1
        else:
            self.failures.append(f"[{self.context}] {message}")
        return condition


CHECK = Checks()


# --- helpers -------------------------------------------------------------------------


_RESULTS: dict[tuple[str, ...], subprocess.CompletedProcess] = {}


def run(cmd: list[str], fresh: bool = False, **kwargs) -> subprocess.CompletedProcess:
    """Runs a command, or returns its result when `prefetch` already ran it (unless fresh)."""
    if not fresh and not kwargs and tuple(cmd) in _RESULTS:
        return _RESULTS[tuple(cmd)]
    return subprocess.run(cmd, capture_output=True, text=True, **kwargs)


def prefetch(commands: list[list[str]]) -> None:
    """Runs independent commands (helm lint and template) in parallel; results are
    picked up by `run`, so the checks stay sequential and their order stable."""
    from concurrent.futures import ThreadPoolExecutor
    todo = [c for c in commands if tuple(c) not in _RESULTS]
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        for cmd, result in zip(todo, pool.map(lambda c: subprocess.run(c, capture_output=True, text=True), todo)):
            _RESULTS[tuple(cmd)] = result


def deep_merge(base: dict, override: dict) -> dict:
    """Helm's coalescing of a values file over the defaults (null deletes a key)."""
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def chart_ports() -> dict[str, int]:
    """Default ports from services/protocol/src/service.rs, the one source of truth."""
    source = (ROOT / "services/protocol/src/service.rs").read_text()
    body = source.split("fn default_port", 1)[1].split("\n    }\n", 1)[0]
    ports = {name.lower(): int(port) for name, port in re.findall(r"Service::(\w+) => (\d+)", body)}
    return ports


PORTS: dict[str, int] = {}


def catalog_model() -> str:
    """The catalog's embedding model, fixed in services/catalog/src/embed.rs."""
    source = (ROOT / "services/catalog/src/embed.rs").read_text()
    return re.search(r'pub const MODEL_NAME: &str = "([^"]+)"', source).group(1)


def manifest_models() -> dict[str, list[str]]:
    """Model name -> used_by, from the manifest compiled into every binary."""
    manifest = tomllib.loads((ROOT / "fixtures/models.toml").read_text())
    return {m["name"]: m.get("used_by", []) for m in manifest["models"]}


def labels_match(selector: dict, labels: dict) -> bool:
    if selector.get("matchExpressions"):
        raise ValueError("matchExpressions are not used by this chart; extend the checker")
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


class Render:
    """One `helm template` output and the values it came from."""

    def __init__(self, name: str, release: str, values: dict, docs: list[dict], path: Path):
        self.name, self.release, self.values, self.docs, self.path = name, release, values, docs, path
        self.fullname = (values.get("fullnameOverride") or release)[:40].rstrip("-")

    def kind(self, kind: str) -> list[dict]:
        return [d for d in self.docs if d.get("kind") == kind]

    def get(self, kind: str, name: str) -> dict | None:
        return next((d for d in self.kind(kind) if d["metadata"]["name"] == name), None)

    def created(self) -> list[str]:
        return [s for s in SERVICES if self.values["services"][s]["create"]]

    def edges(self) -> dict[str, list[str]]:
        edges = copy.deepcopy(EDGES)
        if self.values["networkPolicy"]["tryonToVision"]:
            edges["tryon"] = ["catalog", "vision"]
        created = set(self.created())
        return {a: [b for b in bs if b in created] for a, bs in edges.items() if a in created}

    def qdrant_in_release(self) -> bool:
        v = self.values
        return (v["services"]["catalog"]["create"] and v["services"]["catalog"]["store"] == "server"
                and not v["qdrant"]["external"]["url"])

    def workloads(self) -> list[tuple[str, dict]]:
        return [d for d in self.docs if d.get("kind") in ("Deployment", "StatefulSet", "Job")]

    def expected_models(self, service: str) -> list[str]:
        config = self.values["services"][service]["config"]
        if service == "voice":
            items = [config["stt_model"], config["vad_model"], "onnxruntime", *config["tts_voices"].values()]
        elif service == "vision":
            items = [config["face_detector"], config["face_embedder"]]
        elif service == "dialogue":
            items = [] if config.get("backend") == "remote" else [config["model"]]
        elif service == "catalog":
            items = [catalog_model()]
        else:
            items = []
        seen: list[str] = []
        for item in items:
            if item and item not in seen:
                seen.append(item)
        return seen


def container_port(container: dict, name: str = "http") -> int | None:
    return next((p["containerPort"] for p in container.get("ports", []) if p.get("name") == name), None)


# --- rendering -------------------------------------------------------------------------


def template_cmd(helm: str, release: str, kube_version: str, values_files: list[Path],
                 sets: list[str] = ()) -> list[str]:
    cmd = [helm, "template", release, str(CHART), "--namespace", "shop", "--kube-version", kube_version]
    for f in values_files:
        cmd += ["-f", str(f)]
    for s in sets:
        cmd += ["--set", s]
    return cmd


def lint_cmd(helm: str, kube_version: str, values_files: list[Path]) -> list[str]:
    cmd = [helm, "lint", "--strict", str(CHART), "--kube-version", kube_version]
    for f in values_files:
        cmd += ["-f", str(f)]
    return cmd


def helm_template(helm: str, release: str, kube_version: str, values_files: list[Path],
                  sets: list[str] = (), fresh: bool = False) -> subprocess.CompletedProcess:
    return run(template_cmd(helm, release, kube_version, values_files, sets), fresh=fresh)


def render(helm: str, name: str, release: str, kube_version: str, values_files: list[Path],
           out_dir: Path, defaults: dict, sets: list[str] = (), fresh: bool = False) -> Render | None:
    CHECK.context = f"template {name}"
    result = helm_template(helm, release, kube_version, values_files, sets, fresh)
    if not CHECK.ok(result.returncode == 0, f"helm template failed:\n{result.stderr.strip()}"):
        return None
    path = out_dir / f"{name.replace(' ', '-')}.yaml"
    path.write_text(result.stdout)
    docs = [d for d in yaml.load_all(result.stdout, Loader=LOADER) if d]
    values = defaults
    for f in values_files:
        values = deep_merge(values, yaml.safe_load(f.read_text()) or {})
    for s in sets:
        key, value = s.split("=", 1)
        patch: dict = {}
        cursor = patch
        parts = key.split(".")
        for part in parts[:-1]:
            cursor = cursor.setdefault(part, {})
        cursor[parts[-1]] = yaml.safe_load(value)
        values = deep_merge(values, patch)
    return Render(name, release, values, docs, path)


# --- invariants on one render --------------------------------------------------------


def check_pods(r: Render) -> None:
    accounts = {d["metadata"]["name"] for d in r.kind("ServiceAccount")}
    for w in r.workloads():
        where = f"{w['kind']}/{w['metadata']['name']}"
        pod = w["spec"]["template"]["spec"]
        psc = pod.get("securityContext", {})
        CHECK.ok(psc.get("runAsNonRoot") is True, f"{where}: pod runAsNonRoot must be true")
        CHECK.ok(psc.get("runAsUser", 1) != 0, f"{where}: pod runs as root")
        CHECK.ok(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{where}: seccomp RuntimeDefault")
        for flag in ("hostNetwork", "hostPID", "hostIPC"):
            CHECK.ok(not pod.get(flag), f"{where}: {flag}")
        CHECK.ok(pod.get("automountServiceAccountToken") is False, f"{where}: service account token mounted")
        CHECK.ok(pod.get("enableServiceLinks") is False,
                 f"{where}: service links on (a release named 'shop' would inject SHOP_* variables)")
        CHECK.ok(pod.get("serviceAccountName") in accounts, f"{where}: its ServiceAccount is not rendered")
        pod_labels = w["spec"]["template"]["metadata"]["labels"]
        CHECK.ok(not {"helm.sh/chart", "app.kubernetes.io/version"} & set(pod_labels),
                 f"{where}: chart or app version in the pod labels restarts pods on every chart bump")
        hostpaths = {v["name"] for v in pod.get("volumes", []) if "hostPath" in v}
        for c in pod.get("initContainers", []) + pod.get("containers", []):
            cw = f"{where} container {c['name']}"
            sc = c.get("securityContext", {})
            CHECK.ok(sc.get("allowPrivilegeEscalation") is False, f"{cw}: allowPrivilegeEscalation must be false")
            CHECK.ok(sc.get("readOnlyRootFilesystem") is True, f"{cw}: readOnlyRootFilesystem must be true")
            CHECK.ok("ALL" in sc.get("capabilities", {}).get("drop", []), f"{cw}: capabilities must drop ALL")
            CHECK.ok(not sc.get("capabilities", {}).get("add"), f"{cw}: adds capabilities")
            CHECK.ok(not sc.get("privileged"), f"{cw}: privileged")
            CHECK.ok(sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True, f"{cw}: runAsNonRoot")
            CHECK.ok(sc.get("runAsUser", psc.get("runAsUser", 1)) != 0, f"{cw}: runs as root")
            resources = c.get("resources", {})
            for kind in ("limits", "requests"):
                for res in ("cpu", "memory"):
                    CHECK.ok(res in resources.get(kind, {}), f"{cw}: no {kind}.{res}")
            CHECK.ok(all("hostPort" not in p for p in c.get("ports", [])), f"{cw}: hostPort")
            image = c["image"]
            tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
            CHECK.ok(tag not in ("", "latest"), f"{cw}: image {image} needs a pinned tag")
            for mount in c.get("volumeMounts", []):
                if mount["name"] in hostpaths:
                    CHECK.ok(mount.get("readOnly") is True, f"{cw}: hostPath volume {mount['name']} mounted writable")
        if w["kind"] in ("Deployment", "StatefulSet"):
            for c in pod["containers"]:
                cw = f"{where} container {c['name']}"
                for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                    CHECK.ok(probe in c, f"{cw}: no {probe}")
        if w["kind"] == "Deployment":
            component = w["metadata"]["labels"]["app.kubernetes.io/component"]
            c = pod["containers"][0]
            CHECK.ok(container_port(c) == PORTS.get(component),
                     f"{where}: container port {container_port(c)} is not {component}'s {PORTS.get(component)}")
            CHECK.ok(c.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/healthz", f"{where}: liveness not /healthz")
            CHECK.ok(c.get("readinessProbe", {}).get("httpGet", {}).get("path") == "/readyz", f"{where}: readiness not /readyz")


def check_exposure(r: Render) -> None:
    kiosk = f"{r.fullname}-kiosk"
    for svc in r.kind("Service"):
        name = svc["metadata"]["name"]
        spec = svc["spec"]
        if name == kiosk:
            CHECK.ok(spec["type"] == r.values["services"]["kiosk"]["service"]["type"], f"{name}: type")
        else:
            CHECK.ok(spec.get("type", "ClusterIP") == "ClusterIP", f"Service {name} is exposed as {spec.get('type')}")
        CHECK.ok(not spec.get("externalIPs"), f"Service {name}: externalIPs")
    ingresses = r.kind("Ingress")
    want_ingress = r.values["ingress"]["enabled"] and r.values["services"]["kiosk"]["create"]
    CHECK.ok(len(ingresses) == (1 if want_ingress else 0), f"{len(ingresses)} Ingresses")
    for ing in ingresses:
        for rule in ing["spec"].get("rules", []):
            for path in rule["http"]["paths"]:
                CHECK.ok(path["backend"]["service"]["name"] == kiosk,
                         f"Ingress routes to {path['backend']['service']['name']}, not the kiosk")
        CHECK.ok("defaultBackend" not in ing["spec"], "Ingress has a default backend")
        tls = r.values["ingress"]["tls"]["secretName"]
        CHECK.ok(bool(ing["spec"].get("tls")) == bool(tls), "Ingress TLS does not follow ingress.tls.secretName")
    # Peers from outside the release may only reach the kiosk (or scrape metrics when listed).
    metrics = r.values["networkPolicy"]["metricsFrom"]
    for pol in r.kind("NetworkPolicy"):
        name = pol["metadata"]["name"]
        for rule in pol["spec"].get("ingress") or []:
            for peer in rule.get("from") or [{}]:
                outside = "namespaceSelector" in peer or "ipBlock" in peer or peer == {}
                if outside and name != kiosk:
                    CHECK.ok(peer in metrics, f"NetworkPolicy {name} admits {peer} from outside the release")
                else:
                    CHECK.passed += 1


def pods_of(r: Render) -> dict[str, tuple[dict, list[int]]]:
    """Component -> (pod labels, ports it serves)."""
    pods = {}
    for w in r.workloads():
        labels = w["spec"]["template"]["metadata"]["labels"]
        component = labels["app.kubernetes.io/component"]
        ports = [p["containerPort"] for c in w["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])]
        pods[component] = (labels, ports)
    return pods


def peer_matches(peer: dict, labels: dict) -> bool:
    if "ipBlock" in peer:
        return True  # an IP block may contain pod IPs: count it as a match (strict)
    if "namespaceSelector" in peer:
        if peer["namespaceSelector"] != {}:
            return False  # another namespace
        return labels_match(peer.get("podSelector", {}), labels)
    return labels_match(peer.get("podSelector", {}), labels)


def port_matches(rule: dict, port: int) -> bool:
    ports = rule.get("ports")
    return not ports or any(p.get("port") == port and p.get("protocol", "TCP") == "TCP" for p in ports)


def allowed(r: Render, src: dict, dst: dict, port: int) -> bool:
    """Whether NetworkPolicies let a pod labelled src open a TCP connection to dst:port."""
    policies = r.kind("NetworkPolicy")

    def side(direction: str, me: dict, other: dict) -> bool:
        mine = [p for p in policies if labels_match(p["spec"]["podSelector"], me)
                and direction in p["spec"].get("policyTypes", [])]
        if not mine:
            return True
        key, peers_key = ("egress", "to") if direction == "Egress" else ("ingress", "from")
        for pol in mine:
            for rule in pol["spec"].get(key) or []:
                peers = rule.get(peers_key)
                if (not peers or any(peer_matches(peer, other) for peer in peers)) and port_matches(rule, port):
                    return True
        return False

    return side("Egress", src, dst) and side("Ingress", dst, src)


def check_network(r: Render) -> None:
    release_labels = {"app.kubernetes.io/name": "shopping-assistant", "app.kubernetes.io/instance": r.release}
    pods = pods_of(r)
    deny = [p for p in r.kind("NetworkPolicy")
            if (p["spec"]["podSelector"].get("matchLabels") or {}) == release_labels
            and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
            and not p["spec"].get("ingress") and not p["spec"].get("egress")]
    CHECK.ok(len(deny) == 1, "no default-deny NetworkPolicy over every pod of the release")
    for component, (labels, _) in pods.items():
        CHECK.ok(all(labels_match(p["spec"]["podSelector"], labels) for p in deny),
                 f"the default deny does not select {component}")
    dns = [p for p in r.kind("NetworkPolicy") if (p["spec"]["podSelector"].get("matchLabels") or {}) == release_labels
           and any(any(x.get("port") == 53 and x.get("protocol") == "UDP" for x in rule.get("ports", []))
                   for rule in p["spec"].get("egress") or [])]
    CHECK.ok(len(dns) == 1, "no DNS egress policy for the release's pods")

    expected: set[tuple[str, str, int]] = set()
    for caller, callees in r.edges().items():
        for callee in callees:
            expected.add((caller, callee, PORTS[callee]))
    if r.qdrant_in_release():
        expected |= {("catalog", "qdrant", 6333), ("catalog", "qdrant", 6334), ("qdrant", "qdrant", 6335)}
    for caller, callee, port in sorted(expected):
        CHECK.ok(caller in pods and callee in pods, f"edge {caller} -> {callee}: a workload is missing")
        if caller in pods and callee in pods:
            CHECK.ok(allowed(r, pods[caller][0], pods[callee][0], port),
                     f"edge {caller} -> {callee}:{port} is not allowed by the NetworkPolicies")
    # Everything else between the release's pods is denied.
    for src, (src_labels, _) in pods.items():
        for dst, (dst_labels, ports) in pods.items():
            for port in ports:
                if (src, dst, port) in expected:
                    continue
                CHECK.ok(not allowed(r, src_labels, dst_labels, port),
                         f"{src} -> {dst}:{port} is allowed but is not an edge of ARCHITECTURE.md")
    # The outside reaches the kiosk only, through the ingress controller.
    for dst, (dst_labels, ports) in pods.items():
        for port in ports:
            ingress_ok = any(
                labels_match(p["spec"]["podSelector"], dst_labels) and "Ingress" in p["spec"]["policyTypes"]
                and any(port_matches(rule, port) and any("namespaceSelector" in peer or "ipBlock" in peer
                                                         for peer in rule.get("from") or [])
                        for rule in p["spec"].get("ingress") or [])
                for p in r.kind("NetworkPolicy"))
            metrics_ok = bool(r.values["networkPolicy"]["metricsFrom"])
            if dst == "kiosk":
                CHECK.ok(ingress_ok, "the kiosk cannot be reached from the ingress controller")
            elif not metrics_ok:
                CHECK.ok(not ingress_ok, f"{dst}:{port} admits traffic from outside the release")
    # The models Job reaches a registry only when it must.
    job_pol = r.get("NetworkPolicy", f"{r.fullname}-models")
    if job_pol:
        mirror = r.values["models"]["mirror"]
        no_net = r.values["offline"] or mirror["hostPath"] or mirror["existingClaim"]
        egress = job_pol["spec"].get("egress") or []
        if no_net:
            CHECK.ok(egress == [], "the models Job has egress although offline or installing from a mirror")
        else:
            CHECK.ok(all(all(p.get("port") == 443 for p in rule.get("ports", [{}])) for rule in egress) and egress,
                     "the models Job's egress is not HTTPS only")
    if r.values["offline"]:
        for pol in r.kind("NetworkPolicy"):
            allowed_extra = [rule for s in SERVICES for rule in r.values["services"][s].get("extraEgress", [])]
            for rule in pol["spec"].get("egress") or []:
                if rule in allowed_extra:
                    continue
                peers = rule.get("to") or [{}]
                wide = [p for p in peers if p.get("ipBlock", {}).get("cidr") == "0.0.0.0/0" or p == {}]
                CHECK.ok(not wide, f"offline, yet {pol['metadata']['name']} allows egress anywhere")


def check_config(r: Render) -> list[tuple[str, str]]:
    """Asserts on each service's config.toml; returns (name, text) for the binary check."""
    configs = []
    services = {s["metadata"]["name"]: s for s in r.kind("Service")}
    for name in r.created():
        cm = r.get("ConfigMap", f"{r.fullname}-{name}")
        if not CHECK.ok(cm is not None, f"no ConfigMap for {name}"):
            continue
        text = cm["data"]["config.toml"]
        configs.append((f"{r.name}/{name}", text))
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            CHECK.ok(False, f"{name}: config.toml is not TOML: {e}")
            continue
        CHECK.ok(doc.get("models_dir") == "/models" and doc.get("data_dir") == "/data", f"{name}: models_dir/data_dir")
        own = doc.get(name, {})
        CHECK.ok(own.get("host") == "0.0.0.0", f"{name}: listens on {own.get('host')}")
        CHECK.ok(own.get("port") == PORTS[name], f"{name}: port {own.get('port')}")
        for section, table in doc.items():
            if not isinstance(table, dict) or section == "telemetry":
                continue
            if section != name:
                CHECK.ok(set(table) == {"url"}, f"{name}: section [{section}] holds more than its url")
            url = table.get("url", "")
            m = re.fullmatch(r"http://([a-z0-9-]+):(\d+)", url)
            if CHECK.ok(m is not None, f"{name}: [{section}] url {url!r}"):
                svc = services.get(m.group(1))
                CHECK.ok(svc is not None and svc["spec"]["ports"][0]["port"] == int(m.group(2)) == PORTS[section],
                         f"{name}: [{section}] url {url} is not a rendered Service of {section}")
            if section != name:
                CHECK.ok(section in r.edges().get(name, []), f"{name} is configured to call {section}, not an edge")
        for callee in r.edges().get(name, []):
            CHECK.ok(callee in doc, f"{name} calls {callee} but has no [{callee}] url")

        def secret_keys(table: dict) -> set:
            found = set()
            for key, value in table.items():
                if key in SECRET_KEYS:
                    found.add(key)
                if isinstance(value, dict):
                    found |= secret_keys(value)
            return found

        CHECK.ok(not secret_keys(doc), f"{name}: secrets in a ConfigMap: {secret_keys(doc)}")
        if name == "catalog":
            values = r.values["services"]["catalog"]
            CHECK.ok(own.get("store") == values["store"], "catalog: store back end")
            if values["store"] == "server":
                external = r.values["qdrant"]["external"]["url"]
                want = external or f"http://{r.fullname}-qdrant:6334"
                CHECK.ok(own.get("qdrant_url") == want, f"catalog: qdrant_url {own.get('qdrant_url')} != {want}")
            prefix = values["collectionPrefix"] or f"{r.values['store']['id']}_"
            CHECK.ok(own.get("collection_prefix") == prefix, "catalog: collection prefix")
    # Secrets reach the services from the Secret only, and only where needed.
    secret_name = r.values["secrets"]["existingSecret"] or f"{r.fullname}-secrets"
    CHECK.ok((r.get("Secret", secret_name) is None) == bool(r.values["secrets"]["existingSecret"]),
             "a Secret is rendered although secrets.existingSecret is set (or none is)")
    for d in r.kind("Deployment"):
        component = d["metadata"]["labels"]["app.kubernetes.io/component"]
        env = {e["name"]: e for e in d["spec"]["template"]["spec"]["containers"][0].get("env", [])}
        for key, e in env.items():
            if key.startswith("SHOP_CATALOG__") or key.endswith("_API_KEY"):
                CHECK.ok("valueFrom" in e and "value" not in e, f"{component}: {key} is not from a Secret")
        CHECK.ok(("SHOP_CATALOG__ADMIN_KEY" in env) == (component == "catalog"), f"{component}: admin key")
        CHECK.ok(("SHOP_CATALOG__SERVICE_TOKEN" in env) == (component != "voice"), f"{component}: service token")
        for key in ("SHOP_CATALOG__ADMIN_KEY", "SHOP_CATALOG__SERVICE_TOKEN", "SHOP_CATALOG__QDRANT_API_KEY"):
            if key in env:
                CHECK.ok(env[key]["valueFrom"]["secretKeyRef"]["name"] == secret_name, f"{component}: {key} secret name")
    return configs


def check_models(r: Render, manifest: dict[str, list[str]] | None = None) -> None:
    needed: list[str] = []
    for d in r.kind("Deployment"):
        component = d["metadata"]["labels"]["app.kubernetes.io/component"]
        pod = d["spec"]["template"]["spec"]
        want = r.expected_models(component)
        needed += [m for m in want if m not in needed]
        for model in want if manifest is not None else []:
            CHECK.ok(model in manifest, f"{component}: model {model!r} is not in fixtures/models.toml")
        init = [c for c in pod.get("initContainers", []) if c["name"] == "wait-for-models"]
        mounts = {m["mountPath"]: m for m in pod["containers"][0].get("volumeMounts", [])}
        if want:
            if CHECK.ok(len(init) == 1, f"{component}: no wait-for-models init container"):
                script = " ".join(init[0]["command"])
                verified = re.findall(r"--only ([^\s;]+)", script)
                CHECK.ok(sorted(verified) == sorted(want), f"{component}: verifies {verified}, loads {want}")
                CHECK.ok("models verify" in script, f"{component}: the init container does not run `models verify`")
            CHECK.ok("/models" in mounts and mounts["/models"].get("readOnly") is True,
                     f"{component}: models not mounted read-only at /models")
            annotation = d["spec"]["template"]["metadata"]["annotations"].get("edge-shopping-assistant/models", "")
            CHECK.ok(annotation.split(",") == want, f"{component}: models annotation {annotation}")
        else:
            CHECK.ok(not init and "/models" not in mounts, f"{component} loads no model but mounts them")
        CHECK.ok("checksum/config" in d["spec"]["template"]["metadata"].get("annotations", {}),
                 f"{component}: no config checksum on the pod template")
    jobs = r.kind("Job")
    volume, mirror = r.values["models"]["volume"], r.values["models"]["mirror"]
    has_mirror = bool(mirror["hostPath"] or mirror["existingClaim"])
    want_job = (r.values["models"]["install"]["enabled"] and not volume["hostPath"]
                and (has_mirror or not r.values["offline"]) and bool(needed))
    CHECK.ok(len(jobs) == (1 if want_job else 0), f"{len(jobs)} models Jobs, expected {int(want_job)}")
    for job in jobs:
        args = job["spec"]["template"]["spec"]["containers"][0]["args"]
        CHECK.ok(args[0] == "install", "the models Job does not run `models install`")
        only = [args[i + 1] for i, a in enumerate(args) if a == "--only"]
        CHECK.ok(sorted(only) == sorted(needed), f"the Job installs {only}, the services need {needed}")
        CHECK.ok(("--mirror" in args) == has_mirror, "the Job's --mirror does not follow models.mirror")
        CHECK.ok(re.fullmatch(rf"{r.fullname}-models-[0-9a-f]{{8}}", job["metadata"]["name"]) is not None,
                 f"Job name {job['metadata']['name']} carries no hash")
    pvc = r.get("PersistentVolumeClaim", f"{r.fullname}-models")
    want_pvc = bool(needed) and not volume["hostPath"] and not volume["existingClaim"]
    CHECK.ok((pvc is not None) == want_pvc, "models PersistentVolumeClaim presence")
    if pvc:
        CHECK.ok(pvc["metadata"].get("annotations", {}).get("helm.sh/resource-policy") == "keep",
                 "the models claim is deleted with the release")


def check_scaling(r: Render) -> None:
    pdbs = r.kind("PodDisruptionBudget")
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in r.kind("HorizontalPodAutoscaler")}
    for d in r.kind("Deployment"):
        name = d["metadata"]["name"]
        component = d["metadata"]["labels"]["app.kubernetes.io/component"]
        labels = d["spec"]["template"]["metadata"]["labels"]
        CHECK.ok(any(labels_match(p["spec"]["selector"], labels) for p in pdbs), f"{name}: no PodDisruptionBudget")
        strategy = d["spec"]["strategy"]
        if component == "catalog" and r.values["services"]["catalog"]["store"] == "embedded":
            CHECK.ok(strategy["type"] == "Recreate", "embedded catalog must not run two writers")
            claim = f"{name}-data"
            CHECK.ok(r.get("PersistentVolumeClaim", claim) is not None, "embedded catalog has no data claim")
        else:
            CHECK.ok(strategy["type"] == "RollingUpdate" and strategy["rollingUpdate"]["maxUnavailable"] == 0,
                     f"{name}: a rollout may drop capacity")
        if name in hpas:
            CHECK.ok(component in STATELESS, f"{name}: autoscaled but keeps state")
            CHECK.ok("replicas" not in d["spec"], f"{name}: autoscaled Deployment also sets replicas")
        else:
            CHECK.ok(d["spec"].get("replicas", 1) <= 1 or component in STATELESS,
                     f"{name}: {d['spec'].get('replicas')} replicas of a stateful service")
    for target in hpas:
        CHECK.ok(r.get("Deployment", target) is not None, f"HPA targets a missing Deployment {target}")
    sts = r.get("StatefulSet", f"{r.fullname}-qdrant")
    CHECK.ok((sts is not None) == r.qdrant_in_release(), "Qdrant StatefulSet presence")
    if sts:
        q = r.values["qdrant"]
        env = {e["name"]: e for e in sts["spec"]["template"]["spec"]["containers"][0].get("env", [])}
        CHECK.ok(sts["spec"]["replicas"] == q["replicas"], "Qdrant replicas")
        CHECK.ok(("QDRANT__CLUSTER__ENABLED" in env) == (q["replicas"] > 1), "Qdrant distributed mode")
        if q["replicas"] > 1:
            CHECK.ok(env["QDRANT__STORAGE__COLLECTION__REPLICATION_FACTOR"]["value"] == str(q["cluster"]["replicationFactor"]),
                     "Qdrant replication factor")
        CHECK.ok(("QDRANT__SERVICE__API_KEY" in env) == bool(q["apiKey"]), "Qdrant API key")
        if q["apiKey"]:
            ref = env["QDRANT__SERVICE__API_KEY"]["valueFrom"]["secretKeyRef"]
            secret = r.values["secrets"]["existingSecret"] or f"{r.fullname}-secrets"
            CHECK.ok(ref == {"name": secret, "key": "qdrant-api-key"}, f"Qdrant API key from {ref}")
        CHECK.ok(env.get("QDRANT__TELEMETRY_DISABLED", {}).get("value") == "true", "Qdrant telemetry not disabled")
        headless = r.get("Service", f"{r.fullname}-qdrant-headless")
        CHECK.ok(headless is not None and headless["spec"].get("publishNotReadyAddresses") is True,
                 "Qdrant headless Service")
        image = sts["spec"]["template"]["spec"]["containers"][0]["image"]
        CHECK.ok(image.startswith("qdrant/qdrant:v"), f"Qdrant image {image} is not the official one, pinned")


def check_labels(r: Render) -> None:
    for d in r.docs:
        labels = d["metadata"].get("labels", {})
        CHECK.ok(labels.get("app.kubernetes.io/instance") == r.release
                 and labels.get("edge-shopping-assistant/store") == r.values["store"]["id"],
                 f"{d['kind']}/{d['metadata']['name']}: release and store labels")


# --- scenario-specific expectations ---------------------------------------------------


def names(r: Render, kind: str) -> set[str]:
    return {d["metadata"]["name"] for d in r.kind(kind)}


def scenario_checks(r: Render) -> None:
    f = r.fullname
    n = r.name
    if n in ("defaults", "store london-oxford-street"):
        CHECK.ok(len(r.kind("Deployment")) == 6, "every service has a Deployment")
    if n == "store london-oxford-street":
        CHECK.ok(r.get("StatefulSet", f"{f}-qdrant")["spec"]["replicas"] == 2, "flagship Qdrant on both nodes")
        CHECK.ok(r.get("PersistentVolumeClaim", f"{f}-models")["spec"]["accessModes"] == ["ReadWriteMany"],
                 "flagship models volume shared by both nodes")
        CHECK.ok(len(r.kind("HorizontalPodAutoscaler")) == 3, "flagship autoscales kiosk, voice, vision")
    if n == "store austin-outlet":
        CHECK.ok(f"{f}-tryon" not in names(r, "Deployment"), "austin runs no tryon")
        CHECK.ok(not r.kind("StatefulSet"), "austin runs no Qdrant")
        CHECK.ok(all(c["imagePullPolicy"] == "Never" for w in r.workloads()
                     for c in w["spec"]["template"]["spec"]["containers"]), "austin never pulls")
    if n == "scenario services-disabled":
        for gone in ("vision", "tryon"):
            CHECK.ok(not any(d["metadata"].get("labels", {}).get("app.kubernetes.io/component") == gone for d in r.docs),
                     f"objects of the disabled {gone} are rendered")
        kiosk_cfg = tomllib.loads(r.get("ConfigMap", f"{f}-kiosk")["data"]["config.toml"])
        CHECK.ok("vision" not in kiosk_cfg and "tryon" not in kiosk_cfg, "the kiosk is configured to call disabled services")
    if n == "scenario offline-mirror":
        job = r.kind("Job")[0]
        CHECK.ok(job["spec"]["template"]["spec"]["volumes"][-1]["persistentVolumeClaim"]["claimName"] == "model-mirror",
                 "the mirror claim is mounted")
    if n == "scenario offline-preloaded":
        CHECK.ok(not r.kind("Job") and not r.kind("PersistentVolumeClaim"), "a pre-loaded volume needs no Job or claim")
        for d in r.kind("Deployment"):
            vols = {v["name"]: v for v in d["spec"]["template"]["spec"]["volumes"]}
            if "models" in vols:
                CHECK.ok(vols["models"]["hostPath"]["path"] == "/srv/shop/models", "models hostPath")
    if n == "scenario qdrant-apikey":
        CHECK.ok(not r.kind("Secret"), "the chart made a Secret although one exists")
    if n == "scenario scale-out":
        CHECK.ok({h["spec"]["scaleTargetRef"]["name"] for h in r.kind("HorizontalPodAutoscaler")}
                 == {f"{f}-kiosk", f"{f}-voice", f"{f}-vision"}, "HPAs")
        CHECK.ok(r.get("Deployment", f"{f}-tryon")["spec"]["replicas"] == 3, "tryon replicas")
        sts = r.get("StatefulSet", f"{f}-qdrant")
        CHECK.ok(sts["spec"]["replicas"] == 3 and "--bootstrap" in sts["spec"]["template"]["spec"]["containers"][0]["command"][2],
                 "Qdrant peers bootstrap from pod 0")
    if n == "scenario embedded-catalog":
        CHECK.ok(not r.kind("StatefulSet"), "embedded catalog but a Qdrant StatefulSet")
        pol = r.get("NetworkPolicy", f"{f}-catalog")
        CHECK.ok(pol["spec"]["egress"] == [], "embedded catalog calls nobody")
        cfg = tomllib.loads(r.get("ConfigMap", f"{f}-catalog")["data"]["config.toml"])
        CHECK.ok(cfg["catalog"]["seed_file"] == "/seed/products.csv", "seed file")
    if n == "scenario external-qdrant":
        pol = r.get("NetworkPolicy", f"{f}-catalog")
        CHECK.ok({"ipBlock": {"cidr": "10.20.0.0/24"}} in pol["spec"]["egress"][0]["to"], "egress to the Qdrant hub")
    if n == "scenario kiosk-loadbalancer":
        CHECK.ok(r.get("Service", f"{f}-kiosk")["spec"]["type"] == "LoadBalancer", "kiosk LoadBalancer")
    if n == "scenario remote-dialogue":
        d = r.get("Deployment", f"{f}-dialogue")["spec"]["template"]["spec"]
        CHECK.ok("initContainers" not in d, "a remote dialogue waits for models")
        env = {e["name"] for e in d["containers"][0]["env"]}
        CHECK.ok("SHOP_DIALOGUE__REMOTE_API_KEY" in env, "remote API key from a Secret")
        pods = pods_of(r)
        CHECK.ok(allowed(r, pods["tryon"][0], pods["vision"][0], PORTS["vision"]), "tryon -> vision when enabled")


# --- whole-chart checks ----------------------------------------------------------------


def check_bad_values(helm: str, kube_version: str) -> int:
    rejected = 0
    for path in sorted((ROOT / "tests/helm/bad").glob("*.yaml")):
        CHECK.context = f"bad values {path.name}"
        first = path.read_text().splitlines()[0]
        if not CHECK.ok(first.startswith("# expect: "), "first line must be '# expect: <message>'"):
            continue
        expected = first.removeprefix("# expect: ")
        result = helm_template(helm, "shop", kube_version, [path])
        if CHECK.ok(result.returncode != 0, "accepted, should be rejected"):
            rejected += 1
            CHECK.ok(expected in result.stderr, f"rejected, but not with {expected!r}:\n{result.stderr.strip()}")
    return rejected


def pod_templates(r: Render) -> dict[str, str]:
    return {d["metadata"]["labels"]["app.kubernetes.io/component"]: yaml.dump(d["spec"]["template"], Dumper=DUMPER, sort_keys=True)
            for d in r.kind("Deployment")}


def check_rollouts(helm: str, kube_version: str, out: Path, defaults: dict) -> None:
    """A values change rolls the Deployments it concerns and no other."""
    base = render(helm, "roll-base", "shop", kube_version, [], out, defaults)
    again = render(helm, "roll-again", "shop", kube_version, [], out, defaults, fresh=True)
    if not (base and again):
        return
    CHECK.context = "rollouts"
    CHECK.ok(pod_templates(base) == pod_templates(again), "rendering twice gives different pod templates")
    cases = ROLLOUT_CASES
    prefetch([template_cmd(helm, "shop", kube_version, [], [setting]) for setting, _, _ in cases.values()])
    for what, (setting, rolled, new_job) in cases.items():
        changed = render(helm, f"roll-{what.replace(' ', '-')}", "shop", kube_version, [], out, defaults, [setting])
        if not changed:
            continue
        CHECK.context = f"rollouts: {what}"
        before, after = pod_templates(base), pod_templates(changed)
        differs = {c for c in before if before[c] != after.get(c)}
        CHECK.ok(differs == rolled, f"{setting} rolls {sorted(differs)}, expected {sorted(rolled)}")
        jobs_before = {j["metadata"]["name"] for j in base.kind("Job")}
        jobs_after = {j["metadata"]["name"] for j in changed.kind("Job")}
        CHECK.ok((jobs_before != jobs_after) == new_job, f"{setting}: models Job renamed: {jobs_before != jobs_after}")


# A values change -> the Deployments whose pods it must replace, and whether the models
# Job is a new one.
ROLLOUT_CASES = {
    "a new dialogue model": ("services.dialogue.config.model=smollm2-360m-instruct-q8_0", {"dialogue"}, True),
    "a new whisper model": ("services.voice.config.stt_model=whisper-base.en", {"voice"}, True),
    "more vision workers": ("services.vision.config.workers=3", {"vision"}, False),
    "a new tryon image": ("services.tryon.image.tag=0.1.1", {"tryon"}, False),
    "a new models image": ("models.install.image.tag=0.1.1", {"voice", "vision", "dialogue", "catalog"}, True),
}


def config_fields() -> dict[str, set[str]]:
    source = (ROOT / "services/service-kit/src/config.rs").read_text()
    fields = {}
    for struct, body in re.findall(r"pub struct (\w+)Config \{(.*?)\n\}", source, re.S):
        fields[struct.lower()] = set(re.findall(r"^\s*pub (\w+):", body, re.M))
    return fields


def check_schema_matches_code() -> None:
    CHECK.context = "schema vs config.rs"
    import json
    schema = json.loads((CHART / "values.schema.json").read_text())
    fields = config_fields()
    for service in SERVICES:
        code = fields.get(service)
        if not CHECK.ok(code is not None, f"config.rs has no {service.capitalize()}Config"):
            continue
        owned = CHART_OWNED["*"] | CHART_OWNED.get(service, set())
        in_schema = set(schema["properties"]["services"]["properties"][service]["properties"]["config"]["properties"])
        unknown = in_schema - code
        CHECK.ok(not unknown, f"values.schema.json allows {service}.{sorted(unknown)}, which the service rejects")
        missing = code - in_schema - owned
        if missing:
            print(f"note: {service} config keys not settable through the chart yet: {sorted(missing)}")
    telemetry = set(schema["properties"]["telemetry"]["properties"])
    CHECK.ok({"format", "level"} <= fields.get("telemetry", set()) and telemetry == {"format", "level", "otlpEndpoint"},
             "telemetry keys")


def find_kiosk_binary() -> tuple[Path | None, str]:
    candidates = []
    if os.environ.get("SHOP_KIOSK_BIN"):
        candidates.append(Path(os.environ["SHOP_KIOSK_BIN"]))
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    candidates += [target / "debug/kiosk", target / "release/kiosk"]
    found = [c for c in candidates if c.is_file() and os.access(c, os.X_OK)]
    if not found:
        return None, "no kiosk binary (cargo build -p kiosk, or SHOP_KIOSK_BIN)"
    binary = max(found, key=lambda p: p.stat().st_mtime)
    sources = [ROOT / "services/service-kit/src/config.rs", ROOT / "services/protocol/src/service.rs"]
    newest = max(s.stat().st_mtime for s in sources)
    if binary.stat().st_mtime < newest:
        return None, f"{binary} is older than services/service-kit/src/config.rs (rebuild: cargo build -p kiosk)"
    return binary, ""


def check_configs_with_binary(configs: list[tuple[str, str]]) -> int:
    """Every rendered config.toml goes through the real loader (Config::load, all sections
    validated) in the kiosk binary. Its listen host is pointed at a documentation address
    that cannot be bound, so an accepted config ends at `bind`, never serving."""
    binary, why = find_kiosk_binary()
    CHECK.context = "config files through the kiosk binary"
    if binary is None:
        print(f"note: rendered config files not run through a service binary: {why}")
        return 0
    unique = {text: name for name, text in configs}
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOP_")}
    env.update({"SHOP_KIOSK__HOST": "192.0.2.1", "SHOP_KIOSK__PORT": "9", "SHOP_TELEMETRY__FORMAT": "pretty"})
    with tempfile.TemporaryDirectory() as tmp:
        for i, (text, name) in enumerate(unique.items()):
            path = Path(tmp) / f"{i}.toml"
            path.write_text(text)
            result = run([str(binary)], env={**env, "SHOP_CONFIG": str(path)}, timeout=20)
            CHECK.ok(result.returncode != 2 and "invalid configuration" not in result.stderr,
                     f"{name}: the service rejects its config: {result.stderr.strip()}")
            CHECK.ok("192.0.2.1" in result.stderr, f"{name}: unexpected end: {result.stderr.strip()[:300]}")
    return len(unique)


def check_dockerfiles() -> None:
    crates = {"kiosk": "kiosk", "voice": "voice", "vision": "vision", "dialogue": "dialogue",
              "catalog": "catalog", "tryon": "tryon", "models": "models"}
    for image, crate in crates.items():
        path = ROOT / "docker" / f"{image}.Dockerfile"
        CHECK.context = f"docker/{path.name}"
        if not CHECK.ok(path.is_file(), "missing"):
            continue
        # Instructions, continuation lines joined, comments dropped.
        text = re.sub(r"\\\n", " ", "\n".join(l for l in path.read_text().splitlines() if not l.lstrip().startswith("#")))
        instructions = [l.strip() for l in text.splitlines() if l.strip()]
        froms = [l for l in instructions if l.upper().startswith("FROM ")]
        args = dict(re.findall(r"^ARG (\w+)=(\S+)", text, re.M))
        resolve = lambda s: re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), s)
        CHECK.ok(len(froms) == 2, f"{len(froms)} stages, expected a builder and a runtime stage")
        if len(froms) == 2:
            CHECK.ok(re.match(r"FROM rust:1\.95[\w.-]*-bookworm AS builder$", resolve(froms[0])) is not None,
                     f"builder stage {resolve(froms[0])} is not rust 1.95 on bookworm")
            CHECK.ok(resolve(froms[1]) == "FROM debian:bookworm-slim", f"runtime stage {resolve(froms[1])}")
        builds = re.findall(r"cargo build ([^&;]*)", text)
        CHECK.ok(len(builds) == 1 and re.search(rf"--release --locked -p {crate}(\s|$)", builds[0]) is not None,
                 f"builds {builds}, expected one `cargo build --release --locked -p {crate}`")
        runtime = text.split(froms[-1], 1)[-1] if froms else ""
        users = re.findall(r"^USER (\S+)", runtime, re.M)
        CHECK.ok(len(users) == 1 and re.fullmatch(r"[1-9]\d*(:[1-9]\d*)?", users[0]) is not None,
                 f"runtime USER {users}: a numeric non-root user is needed for runAsNonRoot")
        CHECK.ok(re.search(r"^(COPY|ADD)\s[^\n]*\bmodels/", text, re.M) is None, "copies models into the image")
        CHECK.ok(f'ENTRYPOINT ["/usr/local/bin/{crate}"]' in runtime, "entrypoint is not the binary")
        CHECK.ok("SHOP_MODELS_DIR=/models" in runtime, "SHOP_MODELS_DIR is not /models")
        CHECK.ok(re.search(r"COPY --from=builder [^\n]*/usr/local/bin/" + crate, runtime) is not None,
                 "the runtime stage does not take the binary from the builder")
        CHECK.ok("not found" in runtime and "ldd" in runtime, "no check that every shared library is present")
        if image in ("vision", "tryon"):
            # Debian's OpenCV runtime packages would bring GDAL, Mesa and LLVM (docker/runtime-libs.sh).
            CHECK.ok(re.search(r"apt-get install[^\n]*libopencv-", runtime) is None,
                     "installs Debian's OpenCV runtime packages instead of the libraries the binary links")
            CHECK.ok(f"docker/runtime-libs.sh /out/{crate} /out/runtime" in text
                     and "COPY --from=builder /out/runtime/ /" in runtime and "runtime-libs.sh prune" in runtime,
                     "does not take the linked libraries from the builder (docker/runtime-libs.sh)")
    CHECK.context = ".dockerignore"
    ignore = (ROOT / ".dockerignore").read_text().split()
    for entry in ("target", "models", ".data", ".git"):
        CHECK.ok(any(line.strip("/") == entry for line in ignore), f".dockerignore does not exclude {entry}")


def check_notes(helm: str, kube_version: str, inputs: list) -> None:
    """NOTES.txt tells the operator the kiosk URL and the next steps. `helm template` does
    not render it, so a copy of the chart renders it as a ConfigMap."""
    import shutil
    with tempfile.TemporaryDirectory() as tmp:
        chart = Path(tmp) / "chart"
        shutil.copytree(CHART, chart)
        notes = (chart / "templates/NOTES.txt").read_text()
        (chart / "templates/NOTES.txt").unlink()
        (chart / "templates/_notes_test.tpl").write_text('{{- define "test.notes" -}}\n' + notes + "{{- end -}}\n")
        (chart / "templates/notes-test.yaml").write_text(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: |\n"
            '{{ include "test.notes" . | indent 4 }}\n')
        def notes_cmd(release: str, files: list[Path]) -> list[str]:
            cmd = [helm, "template", release, str(chart), "-n", "shop", "--kube-version", kube_version,
                   "--show-only", "templates/notes-test.yaml"]
            for f in files:
                cmd += ["-f", str(f)]
            return cmd

        prefetch([notes_cmd(release, files) for _, release, files in inputs])
        for name, release, files in inputs:
            CHECK.context = f"NOTES.txt {name}"
            result = run(notes_cmd(release, files))
            if not CHECK.ok(result.returncode == 0, f"NOTES.txt does not render: {result.stderr.strip()}"):
                continue
            text = yaml.safe_load(result.stdout)["data"]["notes"]
            values = yaml.safe_load((CHART / "values.yaml").read_text())
            for f in files:
                values = deep_merge(values, yaml.safe_load(f.read_text()) or {})
            ingress = values["ingress"]
            if ingress["enabled"]:
                scheme = "https" if ingress["tls"]["secretName"] else "http"
                CHECK.ok(f"Kiosk URL: {scheme}://{ingress['host']}/" in text, "no kiosk URL")
            else:
                CHECK.ok("kubectl -n shop" in text and "-kiosk" in text, "no way to the kiosk")
            CHECK.ok("helm -n shop rollback" in text and "ingest" in text, "next steps missing")


def check_examples() -> None:
    CHECK.context = "helm/examples"
    stores = sorted((CHART / "stores").glob("*.yaml"))
    CHECK.ok(len(stores) >= 2, "fewer than two example stores")
    for store in stores:
        CHECK.ok(re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,51}[a-z0-9])?", store.stem) is not None,
                 f"{store.name}: its name is not a valid release name")
    appset = CHART / "examples" / "argocd-applicationset.yaml"
    if CHECK.ok(appset.is_file(), "no Argo CD ApplicationSet example"):
        doc = yaml.safe_load(appset.read_text())
        CHECK.ok(doc["kind"] == "ApplicationSet", "not an ApplicationSet")
        text = appset.read_text()
        CHECK.ok("helm/stores/*.yaml" in text, "the ApplicationSet does not range over helm/stores/*.yaml")
        CHECK.ok("existingSecret" in text or "secrets" in text, "GitOps needs secrets.existingSecret")


# --- main ------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--helm", required=True)
    parser.add_argument("--kubernetes-validate", required=True)
    parser.add_argument("--kube-version", default="1.31.0")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    started = time.monotonic()
    global PORTS
    PORTS = chart_ports()
    CHECK.context = "ports"
    CHECK.ok(set(PORTS) == set(SERVICES), f"services/protocol/src/service.rs names {sorted(PORTS)}")

    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    stores = sorted((CHART / "stores").glob("*.yaml"))
    scenarios = sorted((ROOT / "tests/helm/scenarios").glob("*.yaml"))
    inputs = [("defaults", "shop", [])]
    inputs += [(f"store {s.stem}", s.stem, [s]) for s in stores]
    inputs += [(f"scenario {s.stem}", "shop", [s]) for s in scenarios]
    # The release scripts/check-images.sh runs from the images: held to the same rules.
    inputs += [("image check", "check", [ROOT / "tests/images/check-values.yaml"])]

    bad = sorted((ROOT / "tests/helm/bad").glob("*.yaml"))
    prefetch([lint_cmd(args.helm, args.kube_version, f) for _, _, f in inputs]
             + [template_cmd(args.helm, rel, args.kube_version, f) for _, rel, f in inputs]
             + [template_cmd(args.helm, "shop", args.kube_version, [b]) for b in bad])

    # 1. lint
    for name, release, files in inputs:
        CHECK.context = f"lint {name}"
        result = run(lint_cmd(args.helm, args.kube_version, files))
        CHECK.ok(result.returncode == 0, f"helm lint --strict:\n{result.stdout}{result.stderr}")

    # 2. render and validate
    args.out.mkdir(parents=True, exist_ok=True)
    renders = [r for r in (render(args.helm, n, rel, args.kube_version, f, args.out, defaults) for n, rel, f in inputs) if r]
    CHECK.context = "kubernetes-validate"
    files = [str(r.path) for r in renders]
    # Validation is CPU-bound Python: one process per core, each on a share of the files.
    workers = max(2, os.cpu_count() or 2)
    commands = [[args.kubernetes_validate, "--strict", "-k", args.kube_version, *files[i::workers]]
                for i in range(workers) if files[i::workers]]
    prefetch(commands)
    results = [run(c) for c in commands]
    lines = [l for r in results for l in (r.stdout + r.stderr).splitlines() if l.strip()]
    passed = [l for l in lines if " passed for resource " in l]
    others = [l for l in lines if " passed for resource " not in l]
    manifests = sum(len(r.docs) for r in renders)
    CHECK.ok(all(r.returncode == 0 for r in results) and not others, "kubernetes-validate:\n" + "\n".join(others))
    CHECK.ok(len(passed) == manifests, f"{len(passed)} manifests validated of {manifests} rendered")

    # 3. invariants
    manifest = manifest_models()
    configs = []
    for r in renders:
        CHECK.context = r.name
        check_labels(r)
        check_pods(r)
        check_exposure(r)
        check_network(r)
        configs += check_config(r)
        check_models(r, manifest)
        check_scaling(r)
        scenario_checks(r)

    # 4-7
    rejected = check_bad_values(args.helm, args.kube_version)
    check_rollouts(args.helm, args.kube_version, args.out, defaults)
    check_schema_matches_code()
    run_configs = check_configs_with_binary(configs)
    check_dockerfiles()
    check_examples()
    check_notes(args.helm, args.kube_version, inputs)

    elapsed = time.monotonic() - started
    print(f"helm lint --strict: {len(inputs)} values sets (defaults, {len(stores)} stores, {len(scenarios)} scenarios, the image check's)")
    print(f"kubernetes-validate --strict (Kubernetes {args.kube_version}): {len(passed)} manifests in {len(renders)} renders")
    print(f"bad values rejected by helm template: {rejected}")
    print(f"config files accepted by the kiosk binary's loader: {run_configs}")
    print(f"checks passed: {CHECK.passed}, failed: {len(CHECK.failures)} ({elapsed:.1f} s)")
    for failure in CHECK.failures:
        print(f"FAIL {failure}", file=sys.stderr)
    return 1 if CHECK.failures else 0


if __name__ == "__main__":
    sys.exit(main())
