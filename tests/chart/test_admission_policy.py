"""The chart's admission policies on the real API server: hostile ClickModels and an abused operator token are refused.

The policies are rendered by helm from the chart and applied with a namespaceSelector (the chart value
policy.namespaceSelector) that scopes them to this test's namespaces, so the other tests sharing the cluster
are untouched. ClickModels and workloads are created with a server-side dry run: admission runs in full, and
nothing is left behind. The operator's token is a real TokenRequest token of the chart's ServiceAccount, bound
by the chart's own RBAC.
"""

from __future__ import annotations

import copy
import json
import secrets
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from clickcast.api.roles import Role
from clickcast.api.spec import ClickModelSpec
from clickcast.jobs import manifests as jobs
from clickcast.serving import manifests as serving
from tests.chart.conftest import Helm
from tests.k8s.conftest import GROUP, PLURAL, VERSION, Kube, wait_for
from tests.manifests import MINIMAL, Invalid, build

pytestmark = [pytest.mark.chart, pytest.mark.k8s, pytest.mark.timeout(300)]

IMAGES = "registry.example.com/clickcast"
JOBS_IMAGE, SERVING_IMAGE = f"{IMAGES}/jobs:1.0", f"{IMAGES}/serving:1.0"
ALLOWED_SA, ALLOWED_SECRETS = "spark-training", ("lake-credentials", "git-push")


@dataclass(frozen=True)
class Policy:
    tenant: str
    """A namespace the policies apply to, listing ALLOWED_SA and ALLOWED_SECRETS."""
    bare: str
    """A namespace the policies apply to that lists nothing."""
    operator: client.ApiClient
    """Authenticated as the chart's operator ServiceAccount."""


def _kubectl(kube: Kube, verb: str, docs: list[dict[str, Any]]) -> None:
    done = subprocess.run(["kubectl", "--kubeconfig", str(kube.kubeconfig), verb, "-f", "-"],
                          input=yaml.safe_dump_all(docs), capture_output=True, text=True, timeout=120,
                          check=False)  # fmt: skip
    assert done.returncode == 0 or verb == "delete", done.stderr


@pytest.fixture(scope="module")
def policy(kube: Kube, helm: Helm) -> Iterator[Policy]:
    tag = secrets.token_hex(3)
    release, system = f"ap-{tag}-clickcast", f"ap-{tag}-system"
    label = {"clickcast.io/policy-test": tag}
    docs = helm.template(
        "--set", f"images.registry={IMAGES}", "--set", "images.tag=1.0",
        "--set-json", f"policy.namespaceSelector={json.dumps({'matchLabels': label})}",
        "--show-only", "templates/serviceaccount.yaml", "--show-only", "templates/rbac.yaml",
        "--show-only", "templates/admission-policy.yaml",
        release=release, namespace=system,
    )  # fmt: skip
    tenant, bare = f"ap-{tag}-tenant", f"ap-{tag}-bare"
    listing = {"clickcast.io/service-accounts": f" {ALLOWED_SA} ", "clickcast.io/secrets": ",".join(ALLOWED_SECRETS)}
    for ns, listed in ((system, {}), (tenant, listing), (bare, {})):
        kube.core.create_namespace({"metadata": {"name": ns, "labels": label, "annotations": listed}})
    wait_for("default ServiceAccounts", lambda: all(kube.core.list_namespaced_service_account(ns).items
                                                    for ns in (tenant, bare)), timeout=30)  # fmt: skip
    _kubectl(kube, "apply", docs)
    sa = next(d for d in docs if d["kind"] == "ServiceAccount")["metadata"]["name"]
    token = kube.core.create_namespaced_service_account_token(sa, system, {"spec": {"expirationSeconds": 3600}})
    admin = kube.api.configuration
    conf = client.Configuration()
    conf.host, conf.ssl_ca_cert, conf.verify_ssl = admin.host, admin.ssl_ca_cert, admin.verify_ssl
    conf.api_key = {"authorization": f"Bearer {token.status.token}"}
    try:
        with client.ApiClient(conf) as api:
            # Policies take effect once the API server's informers have them: wait for the first refusal.
            probe = _model(image="elsewhere.test/jobs:1")
            wait_for("the admission policy", lambda: _refusal(kube, bare, probe) is not None, timeout=60, poll=0.5)
            yield Policy(tenant, bare, api)
    finally:
        _kubectl(kube, "delete", docs)
        for ns in (system, tenant, bare):
            kube.core.delete_namespace(ns)


def _model(**training: Any) -> dict[str, Any]:
    doc = copy.deepcopy(MINIMAL)
    doc["metadata"]["name"] = "offers"
    if training:
        doc["spec"]["training"] = training
    return doc


def _with(change: dict[str, Any]) -> dict[str, Any]:
    """MINIMAL with `change` (dotted paths) applied."""
    return build(Invalid("", change, ""))


def _refusal(kube: Kube, namespace: str, doc: dict[str, Any]) -> str | None:
    """None if the API server admits `doc` (dry run); else the reason it gives."""
    try:
        kube.custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, doc, dry_run="All")
    except ApiException as exc:
        if exc.status not in (403, 422):
            raise
        return str(json.loads(exc.body)["message"])
    return None


HOSTILE_MODELS: list[tuple[str, dict[str, Any], str]] = [
    ("training image from another registry", {"spec.training.image": "evil.test/miner:1"}, "spec.training.image"),
    ("serving image from another registry", {"spec.serving.image": "evil.test/miner:1"}, "spec.serving.image"),
    ("image of a look-alike registry path", {"spec.training.image": f"{IMAGES}-evil/jobs:1"}, "spec.training.image"),
    ("image under a look-alike host", {"spec.serving.image": f"{IMAGES}.evil.test/s:1"}, "spec.serving.image"),
    ("master outside the cluster", {"spec.training.master": "k8s://https://elsewhere.test"}, "spec.training.master"),
    ("master under a look-alike host",
     {"spec.training.master": "k8s://https://kubernetes.default.svc.evil.test"}, "spec.training.master"),
    ("standalone master", {"spec.training.master": "spark://elsewhere.test:7077"}, "spec.training.master"),
    ("foreign ServiceAccount", {"spec.training.serviceAccountName": "admin"}, "spec.training.serviceAccountName"),
    ("foreign storage Secret", {"spec.data.storageOptionsSecret": "payments-db"}, "spec.data.storageOptionsSecret"),
    ("foreign GitOps Secret",
     {"spec.promotion.gitops": {"repoUrl": "https://git.example.com/r.git", "secretRef": "payments-db"}},
     "spec.promotion.gitops.secretRef"),
    ("Secret-mounting sparkConf",
     {"spec.training.sparkConf": {"spark.kubernetes.driver.secrets.payments-db": "/s"}}, "sparkConf"),
    ("Kerberos token Secret in sparkConf",
     {"spec.training.sparkConf": {"spark.kubernetes.kerberos.tokenSecret.name": "payments-db"}}, "sparkConf"),
    ("Hadoop ConfigMap in sparkConf",
     {"spec.training.sparkConf": {"spark.kubernetes.hadoop.configMapName": "team-hadoop"}}, "sparkConf"),
    ("master in sparkConf", {"spec.training.sparkConf": {"spark.master": "k8s://https://elsewhere.test"}}, "sparkConf"),
    ("driver's API server in sparkConf",
     {"spec.training.sparkConf": {"spark.kubernetes.driver.master": "https://elsewhere.test"}}, "sparkConf"),
    ("executor image in sparkConf",
     {"spec.training.sparkConf": {"spark.kubernetes.executor.container.image": "evil.test/m:1"}}, "sparkConf"),
    ("namespace in sparkConf", {"spec.training.sparkConf": {"spark.kubernetes.namespace": "kube-system"}}, "sparkConf"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "field"), [h[1:] for h in HOSTILE_MODELS], ids=[h[0] for h in HOSTILE_MODELS])
def test_a_hostile_clickmodel_is_refused_naming_the_field(
    kube: Kube, policy: Policy, change: dict[str, Any], field: str
) -> None:
    said = _refusal(kube, policy.tenant, _with(change))
    assert said is not None and field in said, said


def test_what_the_namespace_lists_and_the_defaults_are_admitted(kube: Kube, policy: Policy) -> None:
    named = _with({
        "spec.training.serviceAccountName": ALLOWED_SA,
        "spec.training.master": "k8s://https://kubernetes.default.svc",
        "spec.training.image": JOBS_IMAGE,
        "spec.serving.image": f"{IMAGES}/serving@sha256:{'ab' * 32}",
        "spec.data.storageOptionsSecret": ALLOWED_SECRETS[0],
        "spec.promotion.gitops": {"repoUrl": "https://git.example.com/r.git", "secretRef": ALLOWED_SECRETS[1]},
    })  # fmt: skip
    assert _refusal(kube, policy.tenant, named) is None
    for master in ("local", "local[*]", "local[2]", "local[4,3]"):
        assert _refusal(kube, policy.bare, _with({"spec.training.master": master})) is None, master
    assert _refusal(kube, policy.bare, _with({})) is None  # naming nothing needs no listing
    # The namespace that lists nothing: the same names are refused there.
    refused = _refusal(kube, policy.bare, _with({"spec.training.serviceAccountName": ALLOWED_SA}))
    assert refused is not None and "clickcast.io/service-accounts" in refused


def _training_job(namespace: str) -> dict[str, Any]:
    spec = ClickModelSpec.model_validate({**MINIMAL["spec"], "training": {"image": JOBS_IMAGE}})
    owner = [{"apiVersion": f"{GROUP}/{VERSION}", "kind": "ClickModel", "name": "offers",
              "uid": "00000000-0000-0000-0000-000000000001", "controller": True}]  # fmt: skip
    return jobs.training_job(name="offers-train-v1", namespace=namespace, model="offers", version="v1", spec=spec,
                             owner=owner)  # fmt: skip


def _serving_deployment(namespace: str) -> dict[str, Any]:
    spec = ClickModelSpec.model_validate({**MINIMAL["spec"], "serving": {"image": SERVING_IMAGE}})
    return serving.deployment(model="offers", version="v1", model_uri="s3://clickcast/models/offers/v1",
                              manifest_sha256="ab" * 32, role=Role.STABLE, serving=spec.serving,
                              namespace=namespace, prediction_log_url="s3://clickcast/logs")  # fmt: skip


def _container(doc: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = doc["spec"]["template"]["spec"]["containers"][0]
    return container


ABUSES: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("privileged", lambda d: _container(d)["securityContext"].update(privileged=True, allowPrivilegeEscalation=True),
     "restricted"),
    ("privilege escalation", lambda d: _container(d)["securityContext"].update(allowPrivilegeEscalation=True),
     "restricted"),
    ("capabilities added", lambda d: _container(d)["securityContext"].update(capabilities={"add": ["SYS_ADMIN"]}),
     "restricted"),
    ("root", lambda d: d["spec"]["template"]["spec"]["securityContext"].update(runAsNonRoot=False), "non-root"),
    ("host network", lambda d: d["spec"]["template"]["spec"].update(hostNetwork=True), "host namespaces"),
    ("hostPath volume", lambda d: d["spec"]["template"]["spec"]["volumes"].append(
        {"name": "host", "hostPath": {"path": "/"}}), "hostPath"),
    ("image from elsewhere", lambda d: _container(d).update(image="evil.test/miner:1"), "allowed images"),
    ("not clickcast's", lambda d: d["metadata"]["labels"].pop("clickcast.io/model"), "clickcast.io/model"),
]  # fmt: skip


@pytest.mark.parametrize(("abuse", "said"), [a[1:] for a in ABUSES], ids=[a[0] for a in ABUSES])
@pytest.mark.parametrize("kind", ["Job", "Deployment"])
def test_the_operators_token_cannot_run_anything_else(
    policy: Policy, kind: str, abuse: Callable[[dict[str, Any]], None], said: str
) -> None:
    batch, apps = client.BatchV1Api(policy.operator), client.AppsV1Api(policy.operator)
    render, create = {
        "Job": (_training_job, lambda d: batch.create_namespaced_job(policy.tenant, d, dry_run="All")),
        "Deployment": (_serving_deployment, lambda d: apps.create_namespaced_deployment(policy.tenant, d,
                                                                                        dry_run="All")),
    }[kind]  # fmt: skip
    create(render(policy.tenant))  # what the operator renders is admitted
    doc = render(policy.tenant)
    abuse(doc)
    with pytest.raises(ApiException) as refused:
        create(doc)
    assert refused.value.status in (403, 422) and said in json.loads(refused.value.body)["message"], refused.value.body
