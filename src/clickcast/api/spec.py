"""`ClickModel.spec`: what the user asks for.

Every field has a default that works, except `data.url`: a ClickModel with
only a data source trains, validates, canaries and promotes with sensible
settings. Cross-field rules live twice, as pydantic validators (offline
`clickcast validate`) and as CEL rules in the CRD (the API server); the tests
feed both the same invalid manifests.
"""

from __future__ import annotations

import re
from enum import StrEnum
from itertools import pairwise
from typing import Annotated, Self

from croniter import croniter
from pydantic import ConfigDict, Field, field_validator, model_validator

from clickcast.api.base import ApiModel, FieldRuleError, cel
from clickcast.api.duration import Duration

QUANTITY_PATTERN = r"^[0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|M|G|T)?$"
Quantity = Annotated[str, Field(pattern=QUANTITY_PATTERN)]
"""A Kubernetes resource quantity such as "500m", "2", "4Gi"."""

URL_PATTERN = r"^([a-z][a-z0-9+.-]*://|/).+"
ColumnName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=64)]
NonNegative = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]
Weight = Annotated[int, Field(ge=1, le=100)]

# Spark settings with which a ClickModel could make Spark's pods mount what it does not name (Secrets, volumes,
# Kerberos and Hadoop ConfigMaps), run another image, or send the driver's token elsewhere (the master, the
# API server the driver asks for executors, another namespace or account).
UNSAFE_SPARK_CONF = (
    r"^spark\.(master$|submit\.deployMode$|kubernetes\.("
    r"(driver|executor)\.(secrets|secretKeyRef|volumes|podTemplateFile|podTemplateContainerName|container\.image$|master$)"
    r"|container\.image$|authenticate\.|namespace$|kerberos\.|krb5\.|hadoop\.configMapName$|file\.upload\.path$))"
)

# A five-field cron expression or a @macro; croniter checks it exactly offline.
CRON_PATTERN = (
    r"^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)"
    r"|([0-9A-Za-z*/,?-]+\s+){4}[0-9A-Za-z*/,?-]+)$"
)


def _check_cron(value: str | None) -> str | None:
    if value is not None and not croniter.is_valid(value):
        raise ValueError(f"invalid cron expression {value!r}")
    return value


class DataFormat(StrEnum):
    PARQUET = "parquet"
    CSV = "csv"


class DataWindow(ApiModel):
    """Which days train the model and which days test it (time-based holdout)."""

    train_days: Annotated[int, Field(ge=1, le=3650)] = 90
    """Days of history before the test window used for training."""
    test_days: Annotated[int, Field(ge=1, le=365)] = 7
    """The most recent days, held out to measure the model (learn on the past, predict the next days)."""


class DataSource(ApiModel):
    """Where the training data lives and how to read it."""

    url: Annotated[str, Field(min_length=1, pattern=URL_PATTERN)]
    """fsspec URL of a parquet or csv dataset (file:///..., s3://..., gs://..., or an absolute path)."""
    format: DataFormat = DataFormat.PARQUET
    """File format of the dataset."""
    date_column: ColumnName = "date"
    """Column holding the day of each row."""
    target_column: ColumnName = "clicks"
    """Column holding the observed clicks (the label)."""
    window: DataWindow = Field(default_factory=DataWindow)
    """Training and test windows, counted back from the newest day in the data."""
    storage_options_secret: Annotated[str, Field(max_length=253)] | None = None
    """Name of a Secret whose keys are passed to fsspec as storage options (credentials)."""


class DateFeature(StrEnum):
    DAY_OF_WEEK = "dayOfWeek"
    DAY_OF_MONTH = "dayOfMonth"
    MONTH = "month"
    WEEK_OF_YEAR = "weekOfYear"
    IS_WEEKEND = "isWeekend"


class Features(ApiModel):
    """Which columns feed the model and how categorical ids are encoded."""

    categorical: Annotated[list[ColumnName], Field(max_length=32)] = Field(
        default_factory=lambda: ["categoryId", "merchantId", "category", "device"]
    )
    """Categorical columns; values seen fewer than `minCategoryCount` times go to an explicit unknown bucket."""
    numeric: Annotated[list[ColumnName], Field(max_length=32)] = Field(default_factory=lambda: ["price"])
    """Numeric columns, used as they are."""
    date_features: Annotated[list[DateFeature], Field(max_length=8)] = Field(
        default_factory=lambda: [DateFeature.DAY_OF_WEEK]
    )
    """Features derived from the date column."""
    max_categories: Annotated[int, Field(ge=2, le=1_000_000)] = 5000
    """Most frequent values kept per categorical column; the rest share the unknown bucket."""
    min_category_count: Annotated[int, Field(ge=1)] = 5
    """Rows a value needs in training to get its own category."""


class AlgorithmName(StrEnum):
    XGBOOST = "xgboost"
    GLM = "glm"


class Objective(StrEnum):
    POISSON = "poisson"
    TWEEDIE = "tweedie"


class XGBoostParams(ApiModel):
    """Hyper-parameters of the gradient-boosted trees (xgboost.spark)."""

    num_rounds: Annotated[int, Field(ge=1, le=10_000)] = 200
    """Boosting rounds (trees)."""
    max_depth: Annotated[int, Field(ge=1, le=20)] = 6
    """Maximum depth of each tree."""
    learning_rate: Annotated[float, Field(gt=0, le=1)] = 0.1
    """Shrinkage applied to each tree (eta)."""
    subsample: Annotated[float, Field(gt=0, le=1)] = 0.8
    """Fraction of rows sampled per tree."""
    colsample_bytree: Annotated[float, Field(gt=0, le=1)] = 0.8
    """Fraction of features sampled per tree."""
    min_child_weight: NonNegative = 1.0
    """Minimum sum of hessian in a leaf."""
    reg_lambda: NonNegative = 1.0
    """L2 regularisation."""
    max_delta_step: NonNegative = 0.7
    """Caps each leaf's step; 0.7 keeps Poisson boosting stable."""
    tweedie_variance_power: Annotated[float, Field(gt=1, lt=2)] = 1.5
    """Variance power, used only with the tweedie objective."""


class GLMParams(ApiModel):
    """Spark ML GeneralizedLinearRegression settings (also the baseline)."""

    reg_param: NonNegative = 0.0
    """L2 regularisation strength."""
    max_iter: Annotated[int, Field(ge=1, le=1000)] = 25
    """Iterations of IRLS."""


class Algorithm(ApiModel):
    """The model to train. A Poisson GLM is always trained beside it as the baseline."""

    name: AlgorithmName = AlgorithmName.XGBOOST
    """Model family."""
    objective: Objective = Objective.POISSON
    """Loss for count data."""
    seed: Annotated[int, Field(ge=0)] = 42
    """Random seed, so retraining on the same data gives the same model."""
    xgboost: XGBoostParams = Field(default_factory=XGBoostParams)
    """Used when name is xgboost."""
    glm: GLMParams = Field(default_factory=GLMParams)
    """Used when name is glm, and for the baseline."""


class TrainingBackend(StrEnum):
    JOB = "job"
    SPARK_APPLICATION = "sparkApplication"


class Resources(ApiModel):
    """CPU and memory of one container (requests equal limits)."""

    cpu: Quantity = "1"
    """CPU cores, e.g. "500m" or "2"."""
    memory: Quantity = "2Gi"
    """Memory, e.g. "512Mi" or "4Gi"."""


class Executors(ApiModel):
    """Spark executors (ignored when the master is local)."""

    instances: Annotated[int, Field(ge=1, le=1000)] = 2
    """Number of executors."""
    cpu: Quantity = "1"
    """CPU cores per executor."""
    memory: Quantity = "2Gi"
    """Memory per executor."""


class Training(ApiModel):
    """How and when the Spark training job runs."""

    backend: TrainingBackend = TrainingBackend.JOB
    """`job`: a Kubernetes Job running spark-submit; `sparkApplication`: a Spark Operator SparkApplication."""
    image: Annotated[str, Field(min_length=1)] | None = None
    """Image with Spark and the jobs. Unset: the operator's (chart: `<images.registry>/jobs:<images.tag>`)."""
    master: Annotated[str, Field(min_length=1)] = "local[*]"
    """Spark master for the Job backend: `local[*]` (embedded, small data) or `k8s://https://kubernetes.default.svc`."""
    driver: Resources = Field(default_factory=Resources)
    """Driver resources."""
    executors: Executors = Field(default_factory=Executors)
    """Executor resources."""
    spark_conf: Annotated[
        dict[str, Annotated[str, Field(max_length=4096)]],
        Field(
            max_length=64,
            json_schema_extra=cel(
                (
                    f"self.all(k, !k.matches('{UNSAFE_SPARK_CONF.replace(chr(92), chr(92) * 2)}'))",
                    "sparkConf may not mount Secrets, volumes or ConfigMaps, or change the master, image, namespace or "
                    "credentials of Spark's pods: name Secrets in spec.data.storageOptionsSecret, the account in "
                    "serviceAccountName, the master in master and the image in image",
                ),
            ),
        ),
    ] = Field(default_factory=dict)
    """Extra Spark configuration (spark.* keys). Keys that would mount Secrets, volumes or ConfigMaps into Spark's
    pods, or change their master, image, namespace or credentials, are refused: the pods may use only what the
    ClickModel names."""
    service_account_name: Annotated[str, Field(max_length=253)] | None = None
    """ServiceAccount of the training pod (needs read access to the data, write access to the store)."""
    schedule: Annotated[str, Field(pattern=CRON_PATTERN)] | None = None
    """Cron schedule for periodic retraining (UTC), e.g. "0 3 * * *". Unset: train on creation and on demand only."""
    trigger: Annotated[str, Field(max_length=63)] | None = None
    """Change this value (any string, e.g. a timestamp) to retrain now."""
    timeout: Duration = "2h"
    """A training run taking longer is failed; the stable model keeps serving."""
    backoff_limit: Annotated[int, Field(ge=0, le=10)] = 1
    """Retries of a failed training pod."""

    @field_validator("schedule")
    @classmethod
    def _valid_cron(cls, value: str | None) -> str | None:
        return _check_cron(value)

    @field_validator("spark_conf")
    @classmethod
    def _safe_conf(cls, conf: dict[str, str]) -> dict[str, str]:
        unsafe = sorted(k for k in conf if re.match(UNSAFE_SPARK_CONF, k))
        if unsafe:
            raise ValueError(
                f"sparkConf may not mount Secrets, volumes or ConfigMaps, or change the master, image, namespace or "
                f"credentials of Spark's pods ({', '.join(unsafe)}): name Secrets in spec.data.storageOptionsSecret, "
                "the account in serviceAccountName, the master in master and the image in image"
            )
        return conf


class AbsoluteGates(ApiModel):
    """Limits the candidate must meet on the test window, whatever production does. Unset: not checked."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            (
                "self.minCalibration < self.maxCalibration",
                "minCalibration must be less than maxCalibration",
                ".minCalibration",
            ),
        )
    )

    max_mae: NonNegative | None = None
    """Largest mean absolute error (clicks per offer-day)."""
    max_rmse: NonNegative | None = None
    """Largest root mean squared error."""
    max_poisson_deviance: NonNegative | None = None
    """Largest mean Poisson deviance."""
    min_calibration: NonNegative = 0.9
    """Smallest acceptable sum(predicted) / sum(actual)."""
    max_calibration: NonNegative = 1.1
    """Largest acceptable sum(predicted) / sum(actual)."""
    min_margin: float | None = None
    """Smallest business margin over the test window (currency units per 1,000 offer-days; may be negative)."""

    @model_validator(mode="after")
    def _calibration_range(self) -> Self:
        if self.min_calibration >= self.max_calibration:
            raise FieldRuleError("minCalibration", "minCalibration must be less than maxCalibration")
        return self


class RelativeGates(ApiModel):
    """Limits relative to the model in production, measured on the same test window."""

    max_mae_increase: NonNegative = 0.02
    """Largest relative MAE increase over the stable model (0.02 = 2% worse)."""
    max_rmse_increase: NonNegative = 0.02
    """Largest relative RMSE increase."""
    max_poisson_deviance_increase: NonNegative = 0.01
    """Largest relative Poisson deviance increase."""
    max_margin_decrease: NonNegative = 0.02
    """Largest margin decrease relative to |stable margin|: the candidate needs stable - this * |stable|."""
    must_beat_baseline: bool = True
    """The candidate's Poisson deviance must be below the GLM baseline's."""


class SegmentGates(ApiModel):
    """Per-segment checks, so an average improvement cannot hide a broken segment."""

    columns: Annotated[list[ColumnName], Field(max_length=8)] = Field(default_factory=lambda: ["device"])
    """Columns whose values define segments (the top `topValues` of each)."""
    top_values: Annotated[int, Field(ge=1, le=100)] = 10
    """Most frequent values per column checked as segments."""
    min_rows: Annotated[int, Field(ge=1)] = 200
    """Segments with fewer test rows are reported, not gated."""
    max_poisson_deviance_increase: NonNegative = 0.05
    """Largest relative deviance increase over the stable model in any segment."""


class RevenueModel(ApiModel):
    """The business margin: the value of the placement decisions the predictions drive. For each
    offer-day a placement is bought when predicted clicks times the revenue per click
    (`commissionRate * price`) exceed `placementCost`; a bought placement earns the revenue of
    its real clicks and pays the cost, an unbought one earns nothing. The expected margin is
    highest when predictions are the true expected clicks, so biased predictions earn less."""

    commission_rate: Fraction = 0.05
    """Share of the offer price the marketplace earns per click."""
    # Near the median expected revenue of an offer-day in `clickcast data generate` output (about 0.9 clicks
    # at a typical price near 27), so roughly half the offer-days are bought and the threshold matters.
    placement_cost: Annotated[float, Field(gt=0)] = 1.0
    """Cost of placing one offer for one day (currency units); bought when predicted revenue exceeds it."""


class Validation(ApiModel):
    """Gates a trained candidate must pass before any traffic reaches it."""

    absolute: AbsoluteGates = Field(default_factory=AbsoluteGates)
    """Absolute thresholds."""
    relative: RelativeGates = Field(default_factory=RelativeGates)
    """Thresholds relative to production."""
    segments: SegmentGates = Field(default_factory=SegmentGates)
    """Per-segment thresholds."""
    revenue: RevenueModel = Field(default_factory=RevenueModel)
    """How the margin metric is computed."""


class Serving(ApiModel):
    """The BentoML prediction service."""

    enabled: bool = True
    """false: batch mode, no prediction service; each validated version scores `spec.scoring` instead."""
    image: Annotated[str, Field(min_length=1)] | None = None
    """Image of the prediction service. Unset: the operator's (chart: `<images.registry>/serving:<images.tag>`)."""
    replicas: Annotated[int, Field(ge=1, le=100)] = 2
    """Replicas of the stable version."""
    resources: Resources = Field(default_factory=lambda: Resources(cpu="1", memory="1Gi"))
    """Resources per replica."""
    port: Annotated[int, Field(ge=1024, le=65535)] = 3000
    """HTTP port of the service."""
    prediction_log_flush_interval: Duration = "5s"
    """How often buffered prediction logs are written to the store."""
    ready_timeout: Duration = "10m"
    """A candidate Deployment not ready by then is rolled back (the stable version keeps serving)."""


class CanaryMode(StrEnum):
    SHADOW = "shadow"
    SPLIT = "split"


ObjectName = Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")]


class GatewayParent(ApiModel):
    """A Gateway the model's HTTPRoute attaches to (Gateway API `parentRefs`)."""

    name: ObjectName
    """The Gateway's name."""
    namespace: ObjectName | None = None
    """Its namespace (default: the ClickModel's)."""
    section_name: Annotated[str, Field(min_length=1, max_length=253)] | None = None
    """One listener of the Gateway (default: all)."""


class GatewayRouting(ApiModel):
    """Route traffic with a Gateway API HTTPRoute (the Gateway API CRDs must be installed)."""

    parent_refs: Annotated[list[GatewayParent], Field(min_length=1, max_length=8)]
    """Gateways the HTTPRoute attaches to."""
    hostnames: Annotated[list[Annotated[str, Field(min_length=1, max_length=253)]], Field(max_length=16)] = Field(
        default_factory=list
    )
    """Hostnames it answers (default: the Gateways' listeners decide)."""


class Canary(ApiModel):
    """How a validated candidate is compared with the stable version on real clicks."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            (
                "self.mode == 'shadow' || size(self.steps) > 0",
                "steps must list at least one weight in split mode",
                ".steps",
            ),
        )
    )

    mode: CanaryMode = CanaryMode.SPLIT
    """`shadow`: the candidate sees mirrored traffic and answers nobody; `split`: it answers a share of requests."""
    steps: Annotated[
        list[Weight],
        Field(
            max_length=10,
            json_schema_extra=cel(
                (
                    "self.isSorted() && self.all(w, self.exists_one(x, x == w))",
                    "canary steps must be strictly ascending weights within 1..100",
                ),
            ),
        ),
    ] = Field(default_factory=lambda: [10, 25, 50])
    """Traffic weights (percent) of the candidate, strictly ascending; split mode only."""
    interval: Duration = "10m"
    """Time between analyses; each passing analysis moves to the next step."""
    min_observations: Annotated[int, Field(ge=10)] = 1000
    """Offer-days with real clicks each version needs before a verdict."""
    confidence_level: Annotated[float, Field(ge=0.5, lt=1)] = 0.95
    """Confidence of the test comparing the versions' Poisson deviance on real clicks."""
    non_inferiority_margin: Annotated[float, Field(ge=0, le=1, alias="maxDevianceIncrease")] = 0.02
    """Non-inferiority margin δ: the candidate passes when its mean Poisson deviance is at most (1+δ) times the
    stable version's, and fails when it is above, each at `confidenceLevel` however often it is looked at.
    A retrain exactly as good as stable sits δ below the boundary, so δ > 0 lets it pass; the larger δ,
    the sooner it passes and the larger the loss of quality that can be let through. 0 passes only a
    candidate that is strictly better, and an equal one ends Inconclusive (rolled back)."""
    max_duration: Duration = "24h"
    """A canary without a verdict by then is rolled back."""
    failure_limit: Annotated[int, Field(ge=0, le=10)] = 0
    """Failed analyses (guardrail breaches) tolerated before rolling back."""
    consecutive_error_limit: Annotated[int, Field(ge=0, le=100)] = 3
    """Evaluation runs in a row that may end in an error (the run failed, or the store refused its report) before
    the canary is rolled back (`CanaryErrored`); a look that succeeds resets the count. An error is evidence neither
    way: each one is retried at the next interval under a new run name. 0: the first error rolls back."""
    late_click_days: Annotated[int, Field(ge=0, le=14)] = 2
    """Days before the last one a look counted that the next look measures again, so that clicks arriving late for
    them are counted: a day's new sums replace its old ones in the test, never add to them. 0: each day once."""
    max_error_rate: Fraction = 0.01
    """Guardrail: the candidate's share of requests answered with a server error (5xx), from its own metrics."""
    max_p99_latency_seconds: Annotated[float, Field(gt=0)] = 0.5
    """Guardrail: the candidate's 99th-percentile request latency, from its own metrics."""
    min_requests: Annotated[int, Field(ge=1)] = 100
    """Requests the candidate must have answered before its error rate and latency are judged."""
    gateway: GatewayRouting | None = None
    """Split mode by HTTPRoute weights: the operator keeps an HTTPRoute named like the ClickModel that sends
    each step's weight to the candidate's Service and the rest to the stable one (all to stable outside a
    canary). Unset: split by replica ratio behind the stable Service."""

    @field_validator("steps")
    @classmethod
    def _strictly_ascending(cls, steps: list[int]) -> list[int]:
        if any(b <= a for a, b in pairwise(steps)):
            raise ValueError("canary steps must be strictly ascending weights within 1..100")
        return steps

    @model_validator(mode="after")
    def _split_needs_steps(self) -> Self:
        if self.mode is CanaryMode.SPLIT and not self.steps:
            raise FieldRuleError("steps", "steps must list at least one weight in split mode")
        return self


class PromotionMode(StrEnum):
    AUTOMATIC = "automatic"
    MANUAL = "manual"


class GitOpsMode(StrEnum):
    COMMIT = "commit"
    BRANCH = "branch"


class GitOps(ApiModel):
    """Where promotions are recorded, with their evidence."""

    repo_url: Annotated[str, Field(min_length=1, pattern=r"^(https?://|ssh://|git@|file://|/).+")]
    """Git repository URL (https, ssh; http and file only where the operator allows them: its setting
    operator.gitSchemes). No user name or password in it: they belong in the Secret `secretRef` names."""
    branch: Annotated[str, Field(min_length=1, max_length=255)] = "main"
    """Branch that holds the promoted model versions."""
    path: Annotated[str, Field(min_length=1, pattern=r"^[^/].*")] = "models"
    """Directory in the repository for promotion records, relative to its root."""
    mode: GitOpsMode = GitOpsMode.COMMIT
    """`commit`: commit to the branch; `branch`: push a new branch per promotion for review."""
    secret_ref: Annotated[str, Field(max_length=253)] | None = None
    """Secret with `username`/`password` (https) or `ssh-privatekey` used to push, and `hosts`: the host names
    (`host` or `host:port`, comma-separated) the credentials may be sent to; any other host gets nothing."""
    author_name: str = "clickcast"
    """Commit author name."""
    author_email: str = "clickcast@localhost"
    """Commit author email."""


class Promotion(ApiModel):
    """What happens when the canary passes."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            (
                "self.mode == 'manual' || !has(self.approvedVersion)",
                "approvedVersion is only used in manual mode",
                ".approvedVersion",
            ),
        )
    )

    mode: PromotionMode = PromotionMode.AUTOMATIC
    """`automatic`: promote on a passing canary; `manual`: wait for `approvedVersion`."""
    approved_version: Annotated[str, Field(max_length=63)] | None = None
    """In manual mode, the candidate version the user approves for promotion."""
    gitops: GitOps | None = None
    """Record each promotion in Git. Unset: promotions are recorded in status only."""
    timeout: Duration = "24h"
    """With `gitops`: how long Promoting waits, from the promotion's decision, for Git to record it (a push that
    keeps failing; in branch mode, a review branch nobody merges). Then the candidate is not promoted
    (`Promoted=False`, `PromotionTimedOut`), the canary is retired and stable, never touched, keeps serving. The
    stable rollout that follows a recorded promotion is bounded by `serving.readyTimeout`."""

    @model_validator(mode="after")
    def _approval_only_manual(self) -> Self:
        if self.mode is not PromotionMode.MANUAL and self.approved_version is not None:
            raise FieldRuleError("approvedVersion", "approvedVersion is only used in manual mode")
        return self


class DropDetector(ApiModel):
    """Abrupt quality drops: the recent window against the model's own test metrics."""

    enabled: bool = True
    """Run this detector."""
    window: Duration = "1d"
    """Recent window compared with the reference."""
    increase_limit: Annotated[float, Field(ge=0, alias="maxDevianceIncrease")] = 0.25
    """Relative Poisson deviance increase that counts as a drop."""


class ErosionDetector(ApiModel):
    """Slow erosion: a one-sided CUSUM over daily deviance ratios."""

    enabled: bool = True
    """Run this detector."""
    window: Duration = "28d"
    """History the detector looks at."""
    drift_allowance: NonNegative = 0.02
    """Daily relative deviance increase tolerated before it accumulates (CUSUM k)."""
    threshold: Annotated[float, Field(gt=0)] = 0.15
    """Accumulated excess that raises an alert (CUSUM h)."""


class Monitoring(ApiModel):
    """Tracking of the serving model against real clicks over time."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            (
                "!self.autoRetrain || self.drop.enabled || self.erosion.enabled",
                "autoRetrain needs drop or erosion detection enabled",
                ".autoRetrain",
            ),
        )
    )

    enabled: bool = True
    """Evaluate the stable model on arriving clicks."""
    interval: Duration = "1h"
    """How often to evaluate."""
    drop: DropDetector = Field(default_factory=DropDetector)
    """Abrupt drop detection."""
    erosion: ErosionDetector = Field(default_factory=ErosionDetector)
    """Slow erosion detection."""
    auto_retrain: bool = False
    """Start a retraining when a detector fires."""
    late_click_days: Annotated[int, Field(ge=0, le=14)] = 2
    """Days before the last one measured that each evaluation measures again, so that clicks arriving late for
    them are counted: a day's new measurement replaces its old one, never adds to it. 0 measures each day once."""

    @model_validator(mode="after")
    def _retrain_needs_detector(self) -> Self:
        if self.auto_retrain and not (self.drop.enabled or self.erosion.enabled):
            raise FieldRuleError("autoRetrain", "autoRetrain needs drop or erosion detection enabled")
        return self


class Scoring(ApiModel):
    """Batch mode (`serving.enabled: false`): train, validate, then score a dataset with the validated version."""

    data_url: Annotated[str, Field(min_length=1, pattern=URL_PATTERN)]
    """fsspec URL of the offers to score (the data contract's input columns)."""
    format: DataFormat = DataFormat.PARQUET
    """File format of the offers."""
    output_url: Annotated[str, Field(min_length=1, pattern=URL_PATTERN)]
    """Where predictions go: each run writes parquet to `<outputUrl>/<version>/`."""
    schedule: Annotated[str, Field(pattern=CRON_PATTERN)] | None = None
    """Cron schedule (UTC) of train-validate-score runs; unset: `spec.training.schedule`."""

    @field_validator("schedule")
    @classmethod
    def _valid_cron(cls, value: str | None) -> str | None:
        return _check_cron(value)


class Store(ApiModel):
    """Where model versions and prediction logs are kept."""

    url: Annotated[str, Field(min_length=1, pattern=URL_PATTERN)]
    """fsspec URL of the model store, reached by every pod and the operator (e.g. `s3://bucket/models`)."""
    prediction_log_url: Annotated[str, Field(pattern=URL_PATTERN)] | None = None
    """fsspec URL for prediction logs. Unset: `<url>/predictions/<ClickModel name>`."""


class ClickModelSpec(ApiModel):
    """Desired state of a click-prediction model: data, training, gates, rollout and monitoring."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            (
                "self.serving.enabled || has(self.scoring)",
                "scoring is required when serving.enabled is false (batch mode)",
                ".scoring",
            ),
        )
    )

    data: DataSource
    """Training data (required)."""
    features: Features = Field(default_factory=Features)
    """Feature columns and encoding."""
    algorithm: Algorithm = Field(default_factory=Algorithm)
    """Model family and hyper-parameters."""
    training: Training = Field(default_factory=Training)
    """Training backend, resources and schedule."""
    store: Store
    """Model store and prediction log location."""
    validation: Validation = Field(default_factory=Validation)
    """Release gates on statistical and business metrics."""
    serving: Serving = Field(default_factory=Serving)
    """Prediction service."""
    scoring: Scoring | None = None
    """Batch scoring with each validated version (required when serving is disabled)."""
    canary: Canary = Field(default_factory=Canary)
    """Canary analysis on real clicks."""
    promotion: Promotion = Field(default_factory=Promotion)
    """Promotion policy and GitOps record."""
    monitoring: Monitoring = Field(default_factory=Monitoring)
    """Quality tracking over time."""
    suspend: bool = False
    """Stop scheduling new trainings and canary steps; the stable model keeps serving."""

    @model_validator(mode="after")
    def _batch_needs_scoring(self) -> Self:
        if not self.serving.enabled and self.scoring is None:
            raise FieldRuleError("scoring", "scoring is required when serving.enabled is false (batch mode)")
        return self
