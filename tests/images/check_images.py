"""Runs the release images as the chart runs them, in containerd (k3s's runtime), and
checks that each service does its job from inside its image.

For every Deployment the chart renders (release "check", tests/images/check-values.yaml),
each container runs with the pod's own settings: its ConfigMap's config.toml at
/etc/shop, its environment (Secret values generated here), a read-only root file system,
/tmp and /data as empty writable folders, the models folder read-only at /models, and the
image's own user, which must be the chart's runAsUser. The containers share the host's
network; the Services' names resolve to 127.0.0.1 through a hosts file.

Then, as a store's engineer would after an install:
  - every service answers /healthz and /readyz;
  - voice: speech synthesised by piper is transcribed back by whisper;
  - catalog: a search of the seeded catalogue finds products;
  - dialogue: "I am looking for a dress" brings dress cards (llama.cpp and the catalog);
  - vision: a face is found in a portrait;
  - tryon: a garment picture is drawn;
  - kiosk: serves its page, and sees all five services ready;
  - each process's peak memory is under the chart's memory limit for it;
  - SIGTERM stops each one cleanly (exit 0) within the pod's grace period.

Prints a JSON summary; exits 1 when a check fails.

  python check_images.py --helm HELM --archive shop-images.tar --models DIR
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import secrets
import shutil
import signal
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


def run(*command: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, check=True, text=True, capture_output=True, **kwargs)


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

    def ctr(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return run("ctr", "--address", self.address, "-n", NAMESPACE, *args, **kwargs)

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
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


class Service:
    """One Deployment's container, run in containerd the way its pod runs it."""

    def __init__(self, deployment: dict, configs: dict, tokens: dict, args, work: Path):
        self.name = deployment["metadata"]["labels"]["app.kubernetes.io/component"]
        self.pod = deployment["spec"]["template"]["spec"]
        self.container = next(c for c in self.pod["containers"] if c["name"] == self.name)
        self.pod_security = self.pod.get("securityContext", {})
        self.grace_s = self.pod.get("terminationGracePeriodSeconds", 30)
        self.image = qualified(self.container["image"])
        self.port = self.container["ports"][0]["containerPort"]
        self.url = f"http://127.0.0.1:{self.port}"
        self.id = f"{RELEASE}-{self.name}-{uuid.uuid4().hex[:6]}"
        self.work = work / self.name
        self.work.mkdir()
        self.configs, self.tokens, self.args = configs, tokens, args
        self.started = None

    def env(self, container: dict) -> list[str]:
        pairs = []
        for item in container.get("env", []):
            if "value" in item:
                pairs.append(f"{item['name']}={item['value']}")
            else:
                pairs.append(f"{item['name']}={self.tokens[item['valueFrom']['secretKeyRef']['key']]}")
        return pairs

    def mounts(self, container: dict, hosts: Path) -> list[str]:
        """The pod's volumes as folders here, one per volume (shared by its containers)."""
        mounts = [f"type=bind,src={hosts},dst=/etc/hosts,options=rbind:ro"]
        for mount in container.get("volumeMounts", []):
            name, target = mount["name"], mount["mountPath"]
            source = self.work / name
            if name == "models":
                source = Path(self.args.models)
            elif source.exists():
                pass
            elif name == "config":
                source.mkdir()
                (source / "config.toml").write_text(self.configs[self.name])
            elif name == "seed":
                source.mkdir()
                shutil.copy(ROOT / "fixtures/catalog/products.json", source / "products.json")
            else:  # emptyDir (tmp, data) or the catalog's data claim: an empty folder
                source.mkdir()
                source.chmod(0o1777)
            options = "rbind:ro" if mount.get("readOnly") else "rbind:rw"
            mounts.append(f"type=bind,src={source},dst={target},options={options}")
        return mounts

    def run_init_containers(self, ctr: Containerd, hosts: Path) -> dict:
        """Each init container to completion, as the kubelet runs them before the service
        (wait-for-models: `models verify` of the service's models)."""
        took = {}
        for init in self.pod.get("initContainers", []):
            image = qualified(init["image"])
            command = ["run", "--rm", "--net-host", "--read-only"]
            for pair in self.env(init):
                command += ["--env", pair]
            for mount in self.mounts(init, hosts):
                command += ["--mount", mount]
            began = time.monotonic()
            done = subprocess.run(["ctr", "--address", ctr.address, "-n", NAMESPACE, *command, image,
                                   f"{self.id}-{init['name']}", *init.get("command", []),
                                   *init.get("args", [])],
                                  capture_output=True, text=True, timeout=READY_WITHIN_S)
            if done.returncode != 0:
                raise CheckFailed(f"{self.name}: init container {init['name']} exited "
                                  f"{done.returncode}: {(done.stdout + done.stderr)[-400:]}")
            took[init["name"]] = round(time.monotonic() - began, 1)
        return took

    def start(self, ctr: Containerd, hosts: Path):
        command = ["run", "--detach", "--net-host", "--read-only"]
        for pair in self.env(self.container):
            command += ["--env", pair]
        for mount in self.mounts(self.container, hosts):
            command += ["--mount", mount]
        self.log = self.work / "log"
        command += ["--log-uri", f"file://{self.log}", self.image, self.id]
        ctr.ctr(*command)
        self.started = time.monotonic()

    def pid(self, ctr: Containerd) -> int:
        for line in ctr.ctr("tasks", "ls").stdout.splitlines()[1:]:
            fields = line.split()
            if fields[0] == self.id:
                return int(fields[1])
        raise CheckFailed(f"{self.name} is not running; its log: {self.log_tail()}")

    def log_tail(self) -> str:
        try:
            return " | ".join(self.log.read_text().splitlines()[-5:])
        except OSError:
            return "(no log)"

    def check_user(self, ctr: Containerd) -> int:
        """The process runs as the chart's runAsUser, from the image's own USER: a pod with
        runAsNonRoot refuses an image that runs as root."""
        security = {**self.pod_security, **self.container.get("securityContext", {})}
        if not security.get("readOnlyRootFilesystem") or security.get("allowPrivilegeEscalation", True):
            raise CheckFailed(f"{self.name}: the chart's securityContext is not hardened")
        status = Path(f"/proc/{self.pid(ctr)}/status").read_text()
        uid = int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1))
        if uid == 0 or uid != security.get("runAsUser"):
            raise CheckFailed(f"{self.name}: runs as uid {uid}, the chart says {security.get('runAsUser')}")
        return uid

    def stop(self, ctr: Containerd) -> dict:
        """SIGTERM, as the kubelet sends it; it must exit 0 within the grace period."""
        begun = time.monotonic()
        ctr.ctr("tasks", "kill", "--signal", "SIGTERM", self.id)
        while not self.stopped(ctr):
            if time.monotonic() - begun > self.grace_s:
                ctr.ctr("tasks", "kill", "--signal", "SIGKILL", self.id)
                raise CheckFailed(f"{self.name} did not stop within {self.grace_s} s of SIGTERM")
            time.sleep(0.2)
        stopped_in = time.monotonic() - begun
        # ctr exits with the task's exit status.
        deleted = subprocess.run(["ctr", "--address", ctr.address, "-n", NAMESPACE, "tasks",
                                  "delete", self.id], capture_output=True, text=True)
        return {"exit_status": deleted.returncode, "stopped_in_s": round(stopped_in, 1)}

    def stopped(self, ctr: Containerd) -> bool:
        for line in ctr.ctr("tasks", "ls").stdout.splitlines()[1:]:
            fields = line.split()
            if fields[0] == self.id:
                return fields[2] == "STOPPED"
        return True

    def remove(self, ctr: Containerd):
        subprocess.run(["ctr", "--address", ctr.address, "-n", NAMESPACE, "tasks", "delete",
                        "--force", self.id], capture_output=True)
        subprocess.run(["ctr", "--address", ctr.address, "-n", NAMESPACE, "containers", "delete",
                        self.id], capture_output=True)


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
    hits = json.loads(answer)["hits"]
    expect(len(hits) > 0, "catalog: a search of the seeded catalogue found nothing")
    return {"search_hits": len(hits)}


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
    return {"png_bytes": len(png)}


def check_kiosk(url: str, _: dict) -> dict:
    status, headers, page = http("GET", f"{url}/")
    expect(status == 200 and "text/html" in headers.get("Content-Type", ""),
           f"kiosk: / answered {status}")
    status, _h, answer = http("GET", f"{url}/api/status")
    services = json.loads(answer)["services"]
    not_ready = [s["service"] for s in services if s.get("state") != "ready"]
    expect(not not_ready, f"kiosk: sees these services not ready: {not_ready}")
    return {"page_bytes": len(page), "services_ready": len(services)}


CHECKS = {"voice": check_voice, "catalog": check_catalog, "dialogue": check_dialogue,
          "vision": check_vision, "tryon": check_tryon, "kiosk": check_kiosk}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--helm", required=True)
    parser.add_argument("--models", required=True, help="a verified models folder")
    parser.add_argument("--archive", help="the images to import first (scripts/images.sh save)")
    parser.add_argument("--address", help="a running containerd (default: start one)")
    parser.add_argument("--values", default=str(ROOT / "tests/images/check-values.yaml"))
    args = parser.parse_args()

    docs = rendered(args.helm, Path(args.values))
    configs = {d["metadata"]["labels"]["app.kubernetes.io/component"]: d["data"]["config.toml"]
               for d in docs if d["kind"] == "ConfigMap" and "config.toml" in d.get("data", {})}
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    tokens = {key: secrets.token_hex(24) for key in
              ("admin-key", "service-token", "kiosk-device-token", "kiosk-staff-token", "qdrant-api-key")}
    summary: dict = {"services": {}}
    work = Path(tempfile.mkdtemp(prefix="check-images-"))
    hosts = work / "hosts"
    names = [d["metadata"]["name"] for d in docs if d["kind"] == "Service"]
    hosts.write_text("127.0.0.1 localhost " + " ".join(names) + "\n")
    ctr = Containerd(args.address, work)
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
        services = [Service(d, configs, tokens, args, work) for d in deployments]
        for service in services:
            expect(service.image in sizes, f"{service.image} is not in containerd: import it first")
            summary["services"][service.name] = {
                "image": service.image, "image_size": sizes[service.image],
                "init_containers_s": service.run_init_containers(ctr, hosts)}
            service.start(ctr, hosts)
        waiting = {s.name: s for s in services}
        deadline = time.monotonic() + READY_WITHIN_S
        while waiting and time.monotonic() < deadline:
            for name, service in list(waiting.items()):
                service.pid(ctr)  # fails at once when the process died
                if http("GET", f"{service.url}/readyz", timeout=2)[0] == 200:
                    summary["services"][name]["ready_in_s"] = round(time.monotonic() - service.started, 1)
                    del waiting[name]
            time.sleep(0.5)
        expect(not waiting, f"not ready within {READY_WITHIN_S} s: "
               + "; ".join(f"{n}: {s.log_tail()}" for n, s in waiting.items()))
        for service in services:
            entry = summary["services"][service.name]
            entry["uid"] = service.check_user(ctr)
            health = http("GET", f"{service.url}/healthz")[0]
            expect(health == 200, f"{service.name}: /healthz answered {health}")
            began = time.monotonic()
            entry["check"] = CHECKS[service.name](service.url, tokens)
            entry["check_s"] = round(time.monotonic() - began, 2)
        for service in services:
            entry = summary["services"][service.name]
            peak = peak_rss_bytes(service.pid(ctr))
            limit = memory_bytes(service.container["resources"]["limits"]["memory"])
            entry["peak_rss_mib"], entry["memory_limit_mib"] = peak >> 20, limit >> 20
            expect(peak < limit, f"{service.name}: peak memory {peak >> 20} MiB is over the "
                   f"chart's limit of {limit >> 20} MiB")
        for service in services:
            stopped = service.stop(ctr)
            summary["services"][service.name].update(stopped)
            expect(stopped["exit_status"] == 0,
                   f"{service.name}: exited {stopped['exit_status']} on SIGTERM: {service.log_tail()}")
    except CheckFailed as error:
        failed = str(error)
    finally:
        for service in services:
            service.remove(ctr)
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
