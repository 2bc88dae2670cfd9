"""The pure builders of training and scoring runs: what the pods may use, how Spark is called."""

from __future__ import annotations

from typing import Any

import pytest

from clickcast.api.images import Images, UnresolvedImage, resolve_images
from clickcast.api.spec import ClickModelSpec
from clickcast.core.observed import RunState
from clickcast.jobs import manifests
from clickcast.operator.backends.job import job_state
from clickcast.operator.backends.spark_application import spark_app_state
from clickcast.operator.observe import rollout
from clickcast.runtime.outcomes import spec_blocker

pytestmark = pytest.mark.unit
OWNER = [{"apiVersion": "clickcast.io/v1alpha1", "kind": "ClickModel", "name": "offers", "uid": "u1",
          "controller": True, "blockOwnerDeletion": True}]  # fmt: skip
IMAGES = Images.of("registry.example.com/team", "1.2")


def spec(**training: Any) -> ClickModelSpec:
    """As the operator hands it to the builders: its images resolved (here to the operator's defaults)."""
    return resolve_images(unresolved(**training), IMAGES)


def unresolved(**training: Any) -> ClickModelSpec:
    return ClickModelSpec.model_validate({
        "data": {"url": "s3://lake/clicks", "storageOptionsSecret": "lake-creds"},
        "store": {"url": "s3://lake/models"},
        "training": {"serviceAccountName": "trainer", "timeout": "90m", "backoffLimit": 2, **training},
        "serving": {"enabled": False},
        "scoring": {"dataUrl": "s3://lake/offers", "outputUrl": "s3://lake/scored", "format": "csv"},
    })  # fmt: skip


def test_training_job() -> None:
    job = manifests.training_job(name="offers-train-v1", namespace="ads", model="offers", version="v1", spec=spec(),
                                 owner=OWNER, reference=("s3://store/models/offers/v0", "ab" * 32),
                                 jobs_dir="/jobs")  # fmt: skip
    assert job["metadata"]["ownerReferences"] == OWNER
    assert job["metadata"]["labels"]["clickcast.io/version"] == "v1"
    assert (job["spec"]["backoffLimit"], job["spec"]["activeDeadlineSeconds"]) == (2, 5400)
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    argv = container["command"] + container["args"]
    assert argv[0] == "spark-submit"
    assert argv[argv.index("/jobs/train.py"):] == [
        "/jobs/train.py", "--model-file", "/etc/clickcast/clickmodel.yaml", "--name", "offers", "--version", "v1",
        "--reference-model", "s3://store/models/offers/v0", "--reference-sha256", "ab" * 32]  # fmt: skip
    assert "spark.local.dir=/scratch" in argv
    # Hadoop's files (S3A's upload buffers) too: its default /tmp is on the read-only root.
    assert {"spark.hadoop.hadoop.tmp.dir=/scratch/hadoop", "spark.hadoop.fs.s3a.buffer.dir=/scratch/s3a"} <= set(argv)
    assert {"name": "storage", "secret": {"secretName": "lake-creds"}} in pod["volumes"]
    assert pod["serviceAccountName"] == "trainer"
    assert pod["automountServiceAccountToken"] is False
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["image"] == "registry.example.com/team/jobs:1.2"
    k8s = manifests.training_job(name="n", namespace="ads", model="offers", version="v1", owner=OWNER,
                                 spec=spec(master="k8s://https://kubernetes.default.svc"))  # fmt: skip
    assert k8s["spec"]["template"]["spec"]["automountServiceAccountToken"] is True  # Spark asks for executors
    k8s_container = k8s["spec"]["template"]["spec"]["containers"][0]
    assert "spark.kubernetes.container.image=registry.example.com/team/jobs:1.2" in k8s_container["args"]


def test_a_spec_whose_images_were_not_resolved_is_refused_not_written_as_null() -> None:
    for build in (manifests.training_job, manifests.spark_application):
        with pytest.raises(UnresolvedImage, match=r"spec\.training\.image"):
            build(name="n", namespace="ads", model="offers", version="v1", spec=unresolved(), owner=OWNER)
    own = unresolved(image="registry.example.com/other/jobs:9")
    job = manifests.training_job(name="n", namespace="ads", model="offers", version="v1", spec=own, owner=OWNER)
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example.com/other/jobs:9"


def test_model_config_map_carries_the_spec_it_was_decided_with() -> None:
    import yaml

    cm = manifests.model_config_map(name="offers-train-v1", namespace="ads", model="offers", version="v1",
                                    run="training", spec=spec(), owner=OWNER)  # fmt: skip
    doc = yaml.safe_load(cm["data"]["clickmodel.yaml"])
    assert ClickModelSpec.model_validate(doc["spec"]) == spec()
    assert doc["metadata"]["name"] == "offers"


def test_scoring_job_pins_the_version() -> None:
    job = manifests.scoring_job(name="offers-score-v1", namespace="ads", model="offers", version="v1",
                                model_uri="s3://store/models/offers/v1", manifest_sha256="cd" * 32,
                                output="s3://lake/scored/v1", spec=spec(), owner=OWNER)  # fmt: skip
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    tail = args[args.index("/opt/clickcast/jobs/score.py") + 1 :]
    assert tail == ["--model", "s3://store/models/offers/v1", "--sha256", "cd" * 32, "--data", "s3://lake/offers",
                    "--out", "s3://lake/scored/v1", "--format", "csv"]  # fmt: skip
    assert job["metadata"]["labels"]["clickcast.io/run"] == "scoring"


def test_evaluation_job_reads_only_new_days_and_compares_the_canary() -> None:
    from datetime import date

    from clickcast.analysis.evidence import Comparison

    job = manifests.evaluation_job(name="offers-canary-v2-3", namespace="ads", model="offers", version="v2",
                                   spec=spec(), owner=OWNER, predictions="s3://store/predictions/offers",
                                   output="s3://store/evaluations/offers/offers-canary-v2-3", after=date(2026, 3, 1),
                                   compare=Comparison("v1", "v2", paired=True))  # fmt: skip
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    tail = args[args.index("/opt/clickcast/jobs/evaluate.py") + 1 :]
    assert tail == ["--model-file", "/etc/clickcast/clickmodel.yaml", "--predictions", "s3://store/predictions/offers",
                    "--actuals", "s3://lake/clicks", "--format", "parquet",
                    "--out", "s3://store/evaluations/offers/offers-canary-v2-3", "--after", "2026-03-01",
                    "--stable-version", "v1", "--candidate-version", "v2", "--paired"]  # fmt: skip
    assert job["metadata"]["labels"]["clickcast.io/run"] == "evaluation"
    assert job["spec"]["ttlSecondsAfterFinished"] == 24 * 3600  # hourly quality runs must not pile up
    assert job["metadata"]["ownerReferences"] == OWNER


def test_spark_application_shape() -> None:
    app = manifests.spark_application(name="offers-train-v1", namespace="ads", model="offers", version="v1",
                                      spec=spec(backend="sparkApplication"), owner=OWNER)  # fmt: skip
    assert (app["apiVersion"], app["kind"]) == ("sparkoperator.k8s.io/v1beta2", "SparkApplication")
    s = app["spec"]
    assert s["mainApplicationFile"] == "local:///opt/clickcast/jobs/train.py"
    assert s["image"] == "registry.example.com/team/jobs:1.2"
    assert s["arguments"][-2:] == ["--version", "v1"]
    assert s["driver"]["serviceAccount"] == "trainer"
    assert (
        s["driver"]["secrets"]
        == s["executor"]["secrets"]
        == [{"name": "lake-creds", "path": "/var/run/secrets/clickcast/storage", "secretType": "Generic"}]
    )
    assert s["executor"]["instances"] == 2
    assert s["restartPolicy"] == {"type": "OnFailure", "onFailureRetries": 2}
    assert {v["name"] for v in s["volumes"]} == {"clickmodel", "scratch"}


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ({}, RunState.RUNNING),
        ({"applicationState": {"state": "RUNNING"}}, RunState.RUNNING),
        ({"applicationState": {"state": "COMPLETED"}}, RunState.SUCCEEDED),
        ({"applicationState": {"state": "FAILED", "errorMessage": "driver OOMKilled"}}, RunState.FAILED),
    ],
)
def test_spark_application_states(status: dict[str, Any], state: RunState) -> None:
    observed = spark_app_state({"status": status})
    assert observed.state is state
    if state is RunState.FAILED:
        assert "driver OOMKilled" in observed.message
    assert spark_app_state(None).state is RunState.MISSING


def test_job_state_and_rollout_from_objects() -> None:
    failed = {"metadata": {"name": "j"}, "status": {"conditions": [
        {"type": "Failed", "status": "True", "reason": "DeadlineExceeded", "message": "too slow"}]}}  # fmt: skip
    pod = {"status": {"containerStatuses": [{"state": {"terminated": {"exitCode": 1, "message": "a\nb\nOOM"}}}]}}
    observed = job_state(failed, [pod])
    assert observed.state is RunState.FAILED
    assert "DeadlineExceeded" in observed.message and "exit code 1: a | b | OOM" in observed.message
    assert job_state({"metadata": {"name": "j"}, "status": {}}, []).state is RunState.RUNNING
    dep = {"metadata": {"generation": 3, "labels": {"clickcast.io/version": "v2"},
                        "annotations": {"clickcast.io/manifest-sha256": "x"}},
           "spec": {"replicas": 2}, "status": {"observedGeneration": 3, "replicas": 3, "updatedReplicas": 2,
                                               "readyReplicas": 3}}  # fmt: skip
    rolling = rollout(dep)
    assert rolling is not None
    assert rolling.version == "v2" and rolling.manifest_sha256 == "x"
    assert rolling.updated < rolling.desired  # an old pod is still there: not complete yet


def test_a_url_scheme_without_a_filesystem_blocks_the_spec() -> None:
    ok = ClickModelSpec.model_validate({"data": {"url": "file:///data"}, "store": {"url": "file:///store"}})
    assert spec_blocker(ok) is None
    unknown = ClickModelSpec.model_validate(
        {"data": {"url": "nosuchfs://bucket/clicks"}, "store": {"url": "file:///store"}}
    )
    assert spec_blocker(unknown) == "spec.data.url: no filesystem is known for nosuchfs://"


@pytest.mark.parametrize("run", ["training", "scoring", "evaluation"])
def test_a_job_carries_its_clickmodel_itself_and_goes_once_finished(run: str, tmp_path: Any) -> None:
    """No ConfigMap per run (one per evaluation piled up): the pod template's annotation, as a file."""
    import yaml

    from clickcast.devcluster.jobrunner import materialize_volumes

    common: dict[str, Any] = {"name": f"offers-{run}-v1", "namespace": "ads", "model": "offers", "version": "v1",
                              "spec": spec(), "owner": OWNER}  # fmt: skip
    job = {
        "training": lambda: manifests.training_job(**common),
        "scoring": lambda: manifests.scoring_job(
            **common, model_uri="s3://m/v1", manifest_sha256="ab", output="s3://o"
        ),
        "evaluation": lambda: manifests.evaluation_job(**common, predictions="s3://p", output="s3://e"),
    }[run]()
    template = job["spec"]["template"]
    pod = template["spec"]
    assert not [v for v in pod["volumes"] if "configMap" in v]
    assert job["spec"]["ttlSecondsAfterFinished"] == (manifests.EVALUATION_TTL if run == "evaluation"
                                                      else manifests.RUN_TTL)  # fmt: skip
    # What a kubelet (here the dev cluster's job runner) makes of it: the manifest at --model-file's path.
    pod_doc = {"metadata": {"name": "p", "annotations": template["metadata"]["annotations"]}, "spec": pod}
    dirs = materialize_volumes(pod_doc, tmp_path, lambda kind, name: {"k": "v"})
    doc = yaml.safe_load((dirs["clickmodel"] / manifests.MODEL_FILE).read_text())
    assert ClickModelSpec.model_validate(doc["spec"]) == spec()
    assert doc["metadata"]["name"] == "offers"
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "clickmodel")
    assert mount["mountPath"] == manifests.CONFIG_DIR
