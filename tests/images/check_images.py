"""Runs the release images as the chart runs them, in containerd (k3s's runtime), and
checks that each service does its job from inside its image.

The chart is rendered for an air-gapped store (release "check",
tests/images/check-values.yaml). Every container runs with its pod's own settings: the
image's own user, which must be the chart's runAsUser; a read-only root file system; its
environment, with Secret values generated here; its volumes as folders here (its
ConfigMap's config.toml at /etc/shop, empty /tmp and /data, the models claim). Services
share the host's network; there is no cluster DNS, so the Services' addresses in the
config files become 127.0.0.1 (with --net-host, containerd gives every container the
host's own /etc/hosts).

In the order of an install:
  - the models Job fills an empty models volume from the mirror folder, with no network
    at all, within its memory limit;
  - each Deployment's init container (wait-for-models: `models verify`) passes on it;
  - every service answers /healthz and /readyz, and does its job:
    voice: speech synthesised by piper is transcribed back by whisper;
    catalog: a search of the seeded catalogue finds products;
    dialogue: "I am looking for a dress" brings dress cards (llama.cpp and the catalog);
    vision: one face is found in a portrait;
    tryon: a garment picture is drawn, and a photo is dressed in a catalogue sweater;
    kiosk: serves its page, and sees the other five services ready;
  - each process's peak memory is under the chart's memory limit for it;
  - SIGTERM stops each one within the pod's grace period, with exit status 0.

Prints a JSON summary; exits 1 when a check fails (its folder of logs is kept).

  python check_images.py --helm HELM --mirror MIRROR [--archive shop-images.tar]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import secrets
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
RELEASE = "check"
NAMESPACE = "k8s.io"  # where k3s's kubelet keeps its images
READY_WITHIN_S = 300


class CheckFailed(Exception):
    """A check a store's engineer would see fail."""


def run(*command: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(command, check=check, text=True, capture_output=True)


class Containerd:
    """A containerd of its own (or one given, such as k3s's), driven with ctr."""

    def __init__(self, address: str | None, work: Path):
        self.process = None
        if address is None:
            address = str(work / "containerd.sock")
            self.log = open(work / "containerd.log", "w")
            self.process = subprocess.Popen(
                ["containerd", "--root", str(work / "root"), "--state", str(work / "state"),
                 "--address", address],
                stdout=self.log, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 30
            while not Path(address).exists():
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise CheckFailed(f"containerd did not start: see {work / 'containerd.log'}")
                time.sleep(0.2)
        self.address = address

    def ctr(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run("ctr", "--address", self.address, "-n", NAMESPACE, *args, check=check)

    def entrypoint(self, image: str) -> list[str]:
        """The image's ENTRYPOINT, from its config in containerd's content store."""
        digest = next(line.split()[2] for line in self.ctr("images", "ls").stdout.splitlines()[1:]
                      if line.split()[0] == image)
        manifest = json.loads(self.ctr("content", "get", digest).stdout)
        if "manifests" in manifest:  # an index: the linux/amd64 manifest
            digest = next(m["digest"] for m in manifest["manifests"]
                          if m.get("platform", {}).get("architecture", "amd64") == "amd64")
            manifest = json.loads(self.ctr("content", "get", digest).stdout)
        config = json.loads(self.ctr("content", "get", manifest["config"]["digest"]).stdout)
        return config["config"].get("Entrypoint") or []

    def stop(self):
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.log.close()


def rendered(helm: str, values: Path) -> list[dict]:
    out = run(helm, "template", RELEASE, str(ROOT / "helm"), "-f", str(values)).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def http(method: str, url: str, body=None, headers=None, timeout=120):
    """(status, headers, bytes) of one request; HTTP errors are answers, not exceptions."""
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if isinstance(body, (dict, list)):
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()
    except OSError:
        return 0, {}, b""


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def word_error_rate(reference: str, hypothesis: str) -> float:
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        previous, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (r != h))
    return row[-1] / max(len(ref), 1)


def memory_bytes(quantity: str) -> int:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 10**3, "M": 10**6, "G": 10**9}
    for unit, factor in units.items():
        if quantity.endswith(unit):
            return int(float(quantity[: -len(unit)]) * factor)
    return int(quantity)


def qualified(image: str) -> str:
    """The name containerd gives an image the chart names without a registry."""
    first = image.split("/")[0]
    return image if "." in first or ":" in first or first == "localhost" else "docker.io/" + image


def peak_rss_bytes(pid: int) -> int:
    """The largest peak resident memory among the process and its descendants (an init
    container's shell runs `models verify` as a child)."""
    peak = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) * 1024
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                peak = max(peak, peak_rss_bytes(int(child)))
            except OSError:  # it has just ended
                pass
    return peak


class Pod:
    """A pod template's containers, run in containerd the way the kubelet runs them: the
    image's own user, a read-only root file system, the pod's volumes as folders here
    (one per volume, shared by its containers), its environment with the Secret's values."""

    def __init__(self, name: str, spec: dict, volumes: dict[str, Path], tokens: dict, work: Path):
        self.name, self.spec, self.volumes, self.tokens = name, spec, volumes, tokens
        self.work = work / name
        self.work.mkdir()
        self.security = spec.get("securityContext", {})
        self.grace_s = spec.get("terminationGracePeriodSeconds", 30)

    def env(self, container: dict) -> list[str]:
        pairs = []
        for item in container.get("env", []):
            if "value" in item:
                pairs.append(f"{item['name']}={item['value']}")
            else:
                pairs.append(f"{item['name']}={self.tokens[item['valueFrom']['secretKeyRef']['key']]}")
        return pairs

    def mounts(self, container: dict) -> list[str]:
        mounts = []
        for mount in container.get("volumeMounts", []):
            name, target = mount["name"], mount["mountPath"]
            source = self.volumes.get(name) or self.work / name
            if not source.exists():  # an emptyDir (tmp, data) or the catalog's data claim
                source.mkdir()
                source.chmod(0o1777)
            options = "rbind:ro" if mount.get("readOnly") else "rbind:rw"
            mounts.append(f"type=bind,src={source},dst={target},options={options}")
        return mounts

    def start(self, ctr: Containerd, container: dict, network: bool = True) -> str:
        """Starts one container; without `network` it has only its own loopback."""
        task = f"{RELEASE}-{self.name}-{container['name']}-{uuid.uuid4().hex[:6]}"
        command = ["run", "--detach", "--read-only", "--log-uri", f"file://{self.work / task}.log"]
        if network:
            command.append("--net-host")
        for pair in self.env(container):
            command += ["--env", pair]
        for mount in self.mounts(container):
            command += ["--mount", mount]
        image = qualified(container["image"])
        # As Kubernetes: `command` replaces the image's ENTRYPOINT, `args` its CMD; ctr
        # takes the whole argv.
        argv = container.get("command") or ctr.entrypoint(image)
        ctr.ctr(*command, image, task, *argv, *container.get("args", []))
        return task

    def pid(self, ctr: Containerd, task: str) -> int | None:
        """The task's process, or None once it has stopped."""
        for line in ctr.ctr("tasks", "ls").stdout.splitlines()[1:]:
            fields = line.split()
            if fields[0] == task:
                return int(fields[1]) if fields[2] == "RUNNING" else None
        return None

    def log_tail(self, task: str) -> str:
        try:
            return " | ".join((self.work / f"{task}.log").read_text().splitlines()[-5:])
        except OSError:
            return "(no log)"

    def wait(self, ctr: Containerd, task: str, within_s: float) -> dict:
        """Waits for the task to end; its exit status, time and peak memory."""
        began, peak = time.monotonic(), 0
        while (pid := self.pid(ctr, task)) is not None:
            try:
                peak = max(peak, peak_rss_bytes(pid))
            except OSError:
                pass
            if time.monotonic() - began > within_s:
                ctr.ctr("tasks", "kill", "--signal", "SIGKILL", task)
                raise CheckFailed(f"{self.name}: {task} still running after {within_s} s")
            time.sleep(0.2)
        # ctr exits with the task's exit status.
        deleted = ctr.ctr("tasks", "delete", task, check=False)
        return {"exit_status": deleted.returncode, "seconds": round(time.monotonic() - began, 1),
                "peak_rss_mib": peak >> 20}

    def run_to_completion(self, ctr: Containerd, container: dict, network: bool = True) -> dict:
        """Runs a Job's or an init container to its end: it must exit 0 within its memory
        limit."""
        task = self.start(ctr, container, network)
        try:
            done = self.wait(ctr, task, READY_WITHIN_S)
        finally:
            remove(ctr, task)
        if done["exit_status"] != 0:
            raise CheckFailed(f"{self.name}: {container['name']} exited {done['exit_status']}: "
                              f"{self.log_tail(task)}")
        limit = memory_bytes(container["resources"]["limits"]["memory"]) >> 20
        if done["peak_rss_mib"] >= limit:
            raise CheckFailed(f"{self.name}: {container['name']} peaked at {done['peak_rss_mib']} MiB,"
                              f" over its limit of {limit} MiB")
        return {**done, "memory_limit_mib": limit}

    def check_user(self, container: dict, pid: int) -> int:
        """The process runs as the chart's runAsUser, from the image's own USER (a pod with
        runAsNonRoot refuses an image that runs as root), holding no capability (the
        chart drops them all; a non-root process must not need any)."""
        security = {**self.security, **container.get("securityContext", {})}
        if not security.get("readOnlyRootFilesystem") or security.get("allowPrivilegeEscalation", True):
            raise CheckFailed(f"{self.name}: the chart's securityContext is not hardened")
        status = Path(f"/proc/{pid}/status").read_text()
        uid = int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1))
        if uid == 0 or uid != security.get("runAsUser"):
            raise CheckFailed(f"{self.name}: runs as uid {uid}, the chart says {security.get('runAsUser')}")
        effective = int(re.search(r"^CapEff:\s+([0-9a-f]+)", status, re.M).group(1), 16)
        if effective != 0 or security.get("capabilities", {}).get("drop") != ["ALL"]:
            raise CheckFailed(f"{self.name}: holds capabilities {effective:#x}, or the chart keeps some")
        return uid


class Service(Pod):
    """A Deployment's pod: its init containers, then the service, on the host's network."""

    def __init__(self, deployment: dict, volumes: dict[str, Path], tokens: dict, work: Path):
        name = deployment["metadata"]["labels"]["app.kubernetes.io/component"]
        super().__init__(name, deployment["spec"]["template"]["spec"], volumes, tokens, work)
        self.container = next(c for c in self.spec["containers"] if c["name"] == name)
        self.image = qualified(self.container["image"])
        self.url = f"http://127.0.0.1:{self.container['ports'][0]['containerPort']}"
        self.task = None
        self.started = 0.0

    def start_service(self, ctr: Containerd) -> dict:
        """Init containers to completion (wait-for-models: `models verify`), then the service."""
        inits = {init["name"]: self.run_to_completion(ctr, init)
                 for init in self.spec.get("initContainers", [])}
        self.task = self.start(ctr, self.container)
        self.started = time.monotonic()
        return inits

    def running_pid(self, ctr: Containerd) -> int:
        pid = self.pid(ctr, self.task)
        if pid is None:
            raise CheckFailed(f"{self.name} is not running; its log: {self.log_tail(self.task)}")
        return pid

    def stop(self, ctr: Containerd) -> dict:
        """SIGTERM, as the kubelet sends it; it must exit 0 within the grace period."""
        ctr.ctr("tasks", "kill", "--signal", "SIGTERM", self.task)
        done = self.wait(ctr, self.task, self.grace_s)
        return {"exit_status": done["exit_status"], "stopped_in_s": done["seconds"]}


def remove(ctr: Containerd, task: str):
    ctr.ctr("tasks", "delete", "--force", task, check=False)
    ctr.ctr("containers", "delete", task, check=False)


def multipart(fields: dict[str, str], file_field: str, filename: str, content: bytes, mime: str):
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
                 f'filename="{filename}"\r\nContent-Type: {mime}\r\n\r\n'.encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def expect(condition: bool, what: str):
    if not condition:
        raise CheckFailed(what)


SENTENCE = "I am looking for a blue shirt to go with my pink sweater."


def check_voice(url: str, _: dict) -> dict:
    status, _h, wav = http("POST", f"{url}/v1/audio/speech",
                           {"model": "tts-1", "input": SENTENCE, "voice": "joe"})
    expect(status == 200 and wav[:4] == b"RIFF", f"voice: speech answered {status}: {wav[:200]!r}")
    body, headers = multipart({"model": "whisper-1"}, "file", "speech.wav", wav, "audio/wav")
    status, _h, answer = http("POST", f"{url}/v1/audio/transcriptions", body, headers)
    expect(status == 200, f"voice: transcription answered {status}: {answer[:200]!r}")
    text = json.loads(answer)["text"]
    wer = word_error_rate(SENTENCE, text)
    expect(wer <= 0.2, f"voice: piper then whisper gave '{text}' (word error rate {wer:.2f})")
    return {"speech_bytes": len(wav), "transcript": text, "word_error_rate": round(wer, 3)}


def check_catalog(url: str, tokens: dict) -> dict:
    status, _h, answer = http("POST", f"{url}/v1/products/search",
                              {"query": "pink sweater", "limit": 5},
                              {"Authorization": f"Bearer {tokens['service-token']}"})
    expect(status == 200, f"catalog: search answered {status}: {answer[:200]!r}")
    hits = [hit["product"] for hit in json.loads(answer)["hits"]]
    top = hits[0] if hits else {}
    expect(top.get("category") == "sweater" and "pink" in top.get("colours", []),
           f"catalog: the best match for 'pink sweater' is {top.get('title')!r} ({top.get('category')})")
    return {"search_hits": len(hits), "best": top["title"]}


def check_dialogue(url: str, _: dict) -> dict:
    status, _h, answer = http("POST", f"{url}/v1/sessions", {"kiosk_id": "check"})
    expect(status in (200, 201), f"dialogue: session answered {status}: {answer[:200]!r}")
    session = json.loads(answer)["session_id"]
    status, _h, stream = http("POST", f"{url}/v1/sessions/{session}/turns",
                              {"text": "I am looking for a dress"})
    expect(status == 200, f"dialogue: turn answered {status}: {stream[:200]!r}")
    events = [json.loads(line[5:]) for line in stream.decode().splitlines() if line.startswith("data:")]
    cards = [card for event in events if event.get("type") == "products" for card in event["cards"]]
    done = [event for event in events if event.get("type") == "done"]
    expect(bool(done), f"dialogue: the turn never finished: {events[-3:]}")
    expect(any(card["category"] == "dress" for card in cards),
           f"dialogue: no dress among the cards: {[c['category'] for c in cards]}")
    return {"cards": len(cards), "reply": done[0]["reply"], "reply_source": done[0]["source"]}


def check_vision(url: str, _: dict) -> dict:
    photo = (ROOT / "fixtures/vision/photos/obama.jpg").read_bytes()
    status, _h, answer = http("POST", f"{url}/v1/vision/analyze", photo, {"Content-Type": "image/jpeg"})
    expect(status == 200, f"vision: analyze answered {status}: {answer[:200]!r}")
    faces = json.loads(answer)["faces"]
    expect(len(faces) == 1, f"vision: {len(faces)} faces in a portrait of one person")
    return {"faces": len(faces)}


def check_tryon(url: str, _: dict) -> dict:
    status, _h, answer = http("POST", f"{url}/v1/images/generations",
                              {"prompt": "a pink striped linen shirt", "size": "512x512",
                               "response_format": "b64_json"})
    expect(status == 200, f"tryon: generation answered {status}: {answer[:200]!r}")
    png = base64.b64decode(json.loads(answer)["data"][0]["b64_json"])
    expect(png[:8] == b"\x89PNG\r\n\x1a\n", "tryon: the generated garment is not a PNG")
    # The mirror: her photo wearing the catalogue's pink sweater (OpenCV's face cascade,
    # GrabCut and warp, and the garment from the catalog).
    photo = (ROOT / "fixtures/vision/photos/obama.jpg").read_bytes()
    status, _h, answer = http("POST", f"{url}/v1/tryon",
                              {"photo_base64": base64.b64encode(photo).decode(), "sku": "SWT-1001-PNK"})
    expect(status == 200, f"tryon: try-on answered {status}: {answer[:200]!r}")
    tried = json.loads(answer)
    picture = base64.b64decode(tried["png_base64"])
    size = struct.unpack(">II", picture[16:24])  # the PNG header's width and height
    expect(picture[:8] == b"\x89PNG\r\n\x1a\n" and size == (910, 1137),
           f"tryon: the try-on picture is not a PNG the photo's size (910 x 1137): {size}")
    expect(bool(tried["regions"]), "tryon: the try-on placed no garment region")
    return {"generated_png_bytes": len(png), "try_on_size": list(size),
            "regions": [r["category"] for r in tried["regions"]]}


def check_kiosk(url: str, _: dict) -> dict:
    status, headers, page = http("GET", f"{url}/")
    expect(status == 200 and "text/html" in headers.get("Content-Type", ""),
           f"kiosk: / answered {status}")
    # The kiosk started before the services it calls, so its circuit breakers opened;
    # they close at their next probe (backing off up to 8 x the open time).
    began = time.monotonic()
    while True:
        status, _h, answer = http("GET", f"{url}/api/status")
        services = json.loads(answer)["services"] if status == 200 else []
        not_ready = [s["service"] for s in services if s.get("state") != "ready"]
        if services and not not_ready:
            break
        expect(time.monotonic() - began < 120,
               f"kiosk: after 120 s still sees these services not ready: {not_ready}")
        time.sleep(1)
    return {"page_bytes": len(page), "services_ready": len(services),
            "saw_all_ready_after_s": round(time.monotonic() - began, 1)}


CHECKS = {"voice": check_voice, "catalog": check_catalog, "dialogue": check_dialogue,
          "vision": check_vision, "tryon": check_tryon, "kiosk": check_kiosk}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--helm", required=True)
    parser.add_argument("--mirror", required=True,
                        help="a model mirror folder (models fetch --into), for the install Job")
    parser.add_argument("--archive", help="the images to import first (scripts/images.sh save)")
    parser.add_argument("--address", help="a running containerd (default: start one)")
    parser.add_argument("--values", default=str(ROOT / "tests/images/check-values.yaml"))
    args = parser.parse_args()

    docs = rendered(args.helm, Path(args.values))
    of_kind = lambda kind: [d for d in docs if d["kind"] == kind]
    tokens = {key: secrets.token_hex(24) for key in
              ("admin-key", "service-token", "kiosk-device-token", "kiosk-staff-token", "qdrant-api-key")}
    summary: dict = {"services": {}}
    work = Path(tempfile.mkdtemp(prefix="check-images-"))
    # The models claim starts empty, owned by the pods' fsGroup, as a new volume would be.
    models_volume = work / "models-volume"
    models_volume.mkdir()
    os.chown(models_volume, 10001, 10001)
    seed = work / "seed"
    seed.mkdir()
    shutil.copy(ROOT / "fixtures/catalog/products.json", seed / "products.json")
    shared = {"models": models_volume, "mirror": Path(args.mirror), "seed": seed}
    ctr = Containerd(args.address, work)
    tasks: list[str] = []
    services: list[Service] = []
    failed = None
    try:
        if args.archive:
            began = time.monotonic()
            ctr.ctr("images", "import", args.archive)
            summary["import_s"] = round(time.monotonic() - began, 1)
        sizes = {}
        for line in ctr.ctr("images", "ls").stdout.splitlines()[1:]:
            fields = line.split()
            sizes[fields[0]] = " ".join(fields[3:5])

        # The install Job, offline: models from the mirror, with no network at all.
        (job,) = of_kind("Job")
        installer = Pod("models-job", job["spec"]["template"]["spec"], shared, tokens, work)
        (install,) = installer.spec["containers"]
        expect(qualified(install["image"]) in sizes, f"{install['image']} is not in containerd: import it first")
        summary["models_job"] = installer.run_to_completion(ctr, install, network=False)

        in_cluster = "|".join(re.escape(d["metadata"]["name"]) for d in of_kind("Service"))
        for deployment in of_kind("Deployment"):
            component = deployment["metadata"]["labels"]["app.kubernetes.io/component"]
            (config,) = [d for d in of_kind("ConfigMap")
                         if d["metadata"]["labels"].get("app.kubernetes.io/component") == component]
            config_dir = work / f"config-{component}"
            config_dir.mkdir()
            (config_dir / "config.toml").write_text(
                re.sub(rf"http://({in_cluster}):", "http://127.0.0.1:", config["data"]["config.toml"]))
            services.append(Service(deployment, {**shared, "config": config_dir}, tokens, work))
        for service in services:
            expect(service.image in sizes, f"{service.image} is not in containerd: import it first")
            summary["services"][service.name] = {"image": service.image, "image_size": sizes[service.image]}
            summary["services"][service.name]["init"] = service.start_service(ctr)
            tasks.append(service.task)
        waiting = {s.name: s for s in services}
        deadline = time.monotonic() + READY_WITHIN_S
        while waiting and time.monotonic() < deadline:
            for name, service in list(waiting.items()):
                service.running_pid(ctr)  # fails at once when the process died
                if http("GET", f"{service.url}/readyz", timeout=2)[0] == 200:
                    summary["services"][name]["ready_in_s"] = round(time.monotonic() - service.started, 1)
                    del waiting[name]
            time.sleep(0.5)
        expect(not waiting, f"not ready within {READY_WITHIN_S} s: "
               + "; ".join(f"{n}: {s.log_tail(s.task)}" for n, s in waiting.items()))
        # The kiosk last: it reports on the others.
        for service in sorted(services, key=lambda s: s.name == "kiosk"):
            entry = summary["services"][service.name]
            entry["uid"] = service.check_user(service.container, service.running_pid(ctr))
            health = http("GET", f"{service.url}/healthz")[0]
            expect(health == 200, f"{service.name}: /healthz answered {health}")
            began = time.monotonic()
            entry["check"] = CHECKS[service.name](service.url, tokens)
            entry["check_s"] = round(time.monotonic() - began, 2)
        for service in services:
            entry = summary["services"][service.name]
            peak = peak_rss_bytes(service.running_pid(ctr))
            limit = memory_bytes(service.container["resources"]["limits"]["memory"])
            entry["peak_rss_mib"], entry["memory_limit_mib"] = peak >> 20, limit >> 20
            expect(peak < limit, f"{service.name}: peak memory {peak >> 20} MiB is over the "
                   f"chart's limit of {limit >> 20} MiB")
        for service in services:
            stopped = service.stop(ctr)
            summary["services"][service.name].update(stopped)
            expect(stopped["exit_status"] == 0, f"{service.name}: exited {stopped['exit_status']} "
                   f"on SIGTERM: {service.log_tail(service.task)}")
    except CheckFailed as error:
        failed = str(error)
    finally:
        for task in tasks:
            remove(ctr, task)
        ctr.stop()
        if failed is None:
            shutil.rmtree(work, ignore_errors=True)
    summary["passed"] = failed is None
    if failed:
        summary["failure"] = failed
        summary["logs"] = str(work)
    print(json.dumps(summary, indent=2))
    return 0 if failed is None else 1


if __name__ == "__main__":
    sys.exit(main())
