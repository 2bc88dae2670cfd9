"""The demo's story on a cluster where the operator runs (what `make cluster-demo` runs after `helm install`).

The same market as `clickcast demo`, with the cluster's operator in place of the embedded runner and real
time in place of the simulated clock:

1. the first version trains (a Job's pod runs Spark) on the days before a market shift and serves;
2. the moved market's clicks arrive and a retrain is asked for (spec.training.trigger);
3. the next version runs as a shadow canary (the stable pods mirror every request to the canary Service):
   each look, a day of offers is sent to a stable pod, then that day's real clicks arrive in the lake;
4. the sequential test decides and the operator promotes or rolls back.

Every new phase is printed as it is entered (`kubectl get clickmodels -w` shows the same).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import yaml
from kubernetes import client, config, watch

from clickcast.api.resource import API_VERSION, GROUP, KIND, PLURAL, VERSION
from clickcast.api.roles import Role
from clickcast.api.status import ClickModelStatus
from clickcast.demo.market import Market, Traffic
from clickcast.demo.story import FLUSH_WAIT, NAME, DemoConfig, DemoError
from clickcast.jobs.generate import GeneratorConfig
from clickcast.serving.manifests import object_name, selector

PORT = 3000


def cluster_config(directory: Path, rows: int = 60_000) -> DemoConfig:
    """The story's days on a cluster: the retrain comes two days later than `make demo`'s, so its 7 training
    days all follow the shift and its 7 test days are a whole week; three days are left for looks."""
    return DemoConfig(directory, rows=rows, days=50, gap=16)


BUCKET_PREFIX = "s3://clickcast/demo"
"""Where the story keeps its lake and store on an object store (`clickcast dev objectstore up` makes the bucket)."""
STORAGE_SECRET = "clickcast-demo-storage"
"""The ClickModel's storageOptionsSecret on an object store: the only place its credentials are."""
GIT_SECRET = "clickcast-gitops"
"""The ClickModel's GitOps secretRef with a Git server (username, password, the host they are for), by the one name
the operator's RBAC lets it read."""


def clickmodel(cfg: DemoConfig, namespace: str, *, object_store: bool = False,
               git_url: str | None = None) -> dict[str, Any]:  # fmt: skip
    """On an object store: lake and store under BUCKET_PREFIX, credentials in STORAGE_SECRET; else under
    cfg.directory (pods that share the host's files: the process runtime). With `git_url`, promotions are
    recorded there (credentials in GIT_SECRET)."""
    root = BUCKET_PREFIX if object_store else f"file://{cfg.directory}"
    data: dict[str, Any] = {"url": f"{root}/lake", "window": {"trainDays": 7, "testDays": 7}}
    if object_store:
        data["storageOptionsSecret"] = STORAGE_SECRET
    promotion = {"gitops": {"repoUrl": git_url, "path": "releases", "secretRef": GIT_SECRET}} if git_url else {}
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": NAME, "namespace": namespace},
        "spec": {
            "data": data,
            "store": {"url": f"{root}/store"},
            "features": {"minCategoryCount": 3},
            "algorithm": {"xgboost": {"numRounds": 30}},
            "training": {"master": "local[2]", "driver": {"cpu": "1", "memory": "1Gi"}},
            "serving": {"replicas": 2, "port": PORT, "predictionLogFlushInterval": "1s"},
            "canary": {"mode": "shadow", "interval": "15s", "minObservations": 300, "maxDuration": "30m"},
            **({"promotion": promotion} if promotion else {}),
        },
    }


class ClusterStory:
    def __init__(self, cfg: DemoConfig, namespace: str, say: Callable[[str], None],
                 storage: dict[str, str] | None = None,
                 git: tuple[str, dict[str, str]] | None = None) -> None:  # fmt: skip
        """Without `storage`, `cfg.directory` holds the lake and the store, so the cluster's pods must reach it
        (file:// URLs); with it (an object store's storage options), both are under BUCKET_PREFIX. `git`: a Git
        remote's URL and credentials, where the operator records each promotion."""
        self.cfg, self.namespace, self.say, self.storage, self.git = cfg, namespace, say, storage, git
        self.api = config.new_client_from_config()  # type: ignore[no-untyped-call]
        self.custom, self.core = client.CustomObjectsApi(self.api), client.CoreV1Api(self.api)
        self.phase: str | None = None  # the last phase printed
        self._stop = threading.Event()

    def run(self) -> ClickModelStatus:
        """The story; returns the ClickModel's status once the release has ended."""
        cfg = self.cfg
        self.say(f"generating {cfg.rows:,} offer-days over {cfg.days} days (a market shift on day {cfg.shift})")
        gen = GeneratorConfig(rows=cfg.rows, days=cfg.days, seed=cfg.seed, shifts=(cfg.shift,), shift_strength=0.6)
        on_store = self.storage is not None
        doc = clickmodel(cfg, self.namespace, object_store=on_store, git_url=self.git[0] if self.git else None)
        lake: Path | str = doc["spec"]["data"]["url"] if on_store else cfg.directory / "lake"
        if on_store:
            self._clear(doc)
            self._secret(STORAGE_SECRET, self.storage or {})
        if self.git is not None:
            self._secret(GIT_SECRET, self.git[1])
        market = Market.generate(cfg.directory / "source", lake, gen, self.storage)
        market.release_clicks(cfg.shift)
        manifest = cfg.directory / "clickmodel.yaml"
        manifest.write_text(yaml.safe_dump(doc, sort_keys=False))
        self.say(f"applying {manifest} in namespace {self.namespace}")
        created = self._replace(doc)
        follower = threading.Thread(target=self._follow, args=(created["metadata"]["resourceVersion"],),
                                    name="phases", daemon=True)  # fmt: skip
        follower.start()
        try:
            return self._story(market)
        finally:
            self._stop.set()
            follower.join(timeout=5)

    def _story(self, market: Market) -> ClickModelStatus:
        cfg = self.cfg
        self.say(f"1. the first version trains on days 0-{cfg.shift - 1} (a Job's pod runs Spark), then serves")
        first = self._wait("the first version serving", lambda s: s.get("phase") == "Serving" and s.get("stable"))
        v1 = first["stable"]["version"]
        self.say(f"   {v1} serves on {self._stable_endpoint()}")

        self.say(f"2. the market moves: days {cfg.shift}-{cfg.shift + cfg.gap - 1} of clicks arrive; retraining")
        market.release_clicks(cfg.shift + cfg.gap)
        self.custom.patch_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, NAME,
                                                   {"spec": {"training": {"trigger": "moved-market"}}})  # fmt: skip
        status = self._wait("the next version's canary",
                            lambda s: (s.get("phase") == "Canary" and s.get("canary"))
                            or (s.get("history") or [{}])[0].get("version") not in (None, v1))  # fmt: skip
        if status.get("phase") != "Canary":
            raise DemoError(f"the next version did not reach the canary: {status['history'][0].get('message')}")
        v2 = status["candidate"]["version"]
        self.say(f"3. {v2} runs as a shadow canary: the stable pods mirror each request to it; a day per look")
        self._wait_for_mirroring()
        day = cfg.shift + cfg.gap
        traffic = Traffic(self._stable_endpoint())
        while status.get("phase") == "Canary" and day < cfg.days - 1:
            asyncio.run(traffic.replay(market.offers(day)))
            time.sleep(FLUSH_WAIT)
            market.release_clicks(day + 1)

            # Looks run on the operator's clock: wait for the one that has this day's clicks.
            def looked(s: dict[str, Any], through: str = market.day(day)) -> bool:
                return s.get("phase") != "Canary" or ((s.get("canary") or {}).get("evidenceThrough") or "") >= through

            status = self._wait(f"a canary look with the clicks of {market.day(day)}", looked)
            day += 1
            canary = status.get("canary") or {}
            if canary.get("devianceRatio") is not None:
                self.say(f"   look {canary['analyses']}: deviance ratio {canary['devianceRatio']:.3f} "
                         f"[{canary.get('ciLow', 0):.3f}, {canary.get('ciHigh', 0):.3f}] on "
                         f"{canary.get('candidateObservations', 0):,} offer-days: {canary.get('verdict')}")  # fmt: skip
        if traffic.failed:
            raise DemoError(f"{traffic.failed} of {traffic.sent} requests failed: {traffic.failures}")
        self.say("4. the decision")
        done = self._wait("the release to end", lambda s: s.get("phase") == "Serving" and not s.get("candidate"))
        entry = done["history"][0]
        self.say(f"   {entry['version']}: {entry['decision']} ({entry.get('reason')}); {done['stable']['version']} "
                 "serves")  # fmt: skip
        if entry.get("gitCommit"):
            self.say(f"   recorded in Git: commit {entry['gitCommit']} on {self.git[0] if self.git else 'its remote'}")
        return ClickModelStatus.model_validate(done)

    # --- the cluster ---------------------------------------------------------------------------

    def _secret(self, name: str, data: dict[str, str]) -> None:
        """A Secret the ClickModel names (its storageOptionsSecret, one key per option as pods mount it; its GitOps
        secretRef, which the operator reads)."""
        body = client.V1Secret(metadata=client.V1ObjectMeta(name=name), string_data=data)
        try:
            self.core.create_namespaced_secret(self.namespace, body)
        except client.ApiException as exc:
            if exc.status != 409:
                raise
            self.core.replace_namespaced_secret(name, self.namespace, body)

    def _clear(self, doc: dict[str, Any]) -> None:
        """A previous run's lake and store go: the story starts from an empty market."""
        market = Market([], doc["spec"]["data"]["url"], dict(self.storage or {}))
        fs, path = market.filesystem()
        for url in (path, path.rsplit("/", 1)[0] + "/store"):
            if fs.exists(url):
                fs.rm(url, recursive=True)

    def _get(self) -> dict[str, Any]:
        return cast(dict[str, Any], self.custom.get_namespaced_custom_object(GROUP, VERSION, self.namespace,
                                                                             PLURAL, NAME))  # fmt: skip

    def _replace(self, doc: dict[str, Any]) -> dict[str, Any]:
        ns = self.namespace
        try:
            self.custom.delete_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, NAME)
            while True:  # its owned Deployments and Jobs go with it (garbage collection)
                self._get()
                time.sleep(1)
        except client.ApiException as exc:
            if exc.status != 404:
                raise
        return cast(dict[str, Any], self.custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, doc))

    def _follow(self, resource_version: str) -> None:
        """Print each phase as it is entered, from a watch (as `kubectl get -w`: every status written is seen,
        however briefly it lasts)."""
        since: str | None = resource_version
        while not self._stop.is_set():
            try:
                events = watch.Watch().stream(  # type: ignore[no-untyped-call]
                    self.custom.list_namespaced_custom_object, GROUP, VERSION, self.namespace, PLURAL,
                    field_selector=f"metadata.name={NAME}", resource_version=since, timeout_seconds=5,
                )  # fmt: skip
                for event in events:
                    obj = event["object"]
                    since = obj["metadata"]["resourceVersion"]
                    phase = (obj.get("status") or {}).get("phase")
                    if phase and phase != self.phase and event["type"] != "DELETED":
                        self.say(f"phase: {phase}")
                        self.phase = phase
            except client.ApiException as exc:
                since = None if exc.status == 410 else since  # expired: list again
                time.sleep(1)

    def _until(self, what: str, check: Callable[[], Any], detail: Callable[[], str] = str) -> Any:
        """Poll `check()` every second until it returns something truthy; DemoError after cfg.timeout."""
        deadline = time.monotonic() + self.cfg.timeout
        while not (found := check()):
            if time.monotonic() > deadline:
                raise DemoError(f"no {what} after {self.cfg.timeout:.0f}s{detail()}")
            time.sleep(1.0)
        return found

    def _wait(self, what: str, done: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
        """Until `done(status)`; a Failed ClickModel ends the demo."""

        last: dict[str, Any] = {}

        def check() -> dict[str, Any] | None:
            status: dict[str, Any] = self._get().get("status") or {}
            last["phase"] = status.get("phase")
            if done(status):
                return status
            if status.get("phase") == "Failed":
                reasons = "; ".join(f"{c['type']}: {c.get('message')}" for c in status.get("conditions") or []
                                    if c.get("status") == "False")  # fmt: skip
                raise DemoError(f"{NAME} failed while waiting for {what}: {reasons}")
            return None

        found: dict[str, Any] = self._until(what, check, lambda: f" (phase {last.get('phase')})")
        return found

    def _doc(self, obj: object) -> dict[str, Any]:
        doc: dict[str, Any] = self.api.sanitize_for_serialization(obj)
        return doc

    def _wait_for_mirroring(self) -> None:
        """Until the stable Deployment has rolled to pods that mirror to the canary (SHADOW_URL), all ready."""
        apps = client.AppsV1Api(self.api)

        def mirroring() -> bool:
            dep = self._doc(apps.read_namespaced_deployment(object_name(NAME, Role.STABLE), self.namespace))
            env = {e["name"] for e in dep["spec"]["template"]["spec"]["containers"][0].get("env") or []}
            st, want = dep.get("status") or {}, dep["spec"]["replicas"]
            rolled = st.get("observedGeneration", 0) >= dep["metadata"]["generation"] and st.get("replicas") == want
            return "SHADOW_URL" in env and rolled and st.get("updatedReplicas") == st.get("readyReplicas") == want

        self._until("stable pods mirroring to the canary", mirroring)

    def _stable_endpoint(self) -> str:
        """A ready stable pod, at its own address (the host has no route to Services)."""
        labels = ",".join(f"{k}={v}" for k, v in selector(NAME, Role.STABLE).items())
        pods = self._doc(self.core.list_namespaced_pod(self.namespace, label_selector=labels))["items"]
        for pod in pods:
            status = pod.get("status") or {}
            ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions") or [])
            if ready and status.get("podIP") and not pod["metadata"].get("deletionTimestamp"):
                return f"http://{status['podIP']}:{PORT}"
        raise DemoError("no ready stable pod")
