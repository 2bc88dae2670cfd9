"""What one promotion writes into the GitOps repository. Purely computational: no Git, no I/O.

A promotion lands as two files under `spec.promotion.gitops.path`:

- `<path>/<namespace>/<name>/release.yaml`, the **pin**: the version that serves, its artifact URI and
  the sha256 of its manifest. It is shaped as a Helm values file (`helm upgrade -f release.yaml` gives
  `.Values.model.version`, `.Values.model.uri`, `.Values.model.checksum`); a kustomize
  `configMapGenerator`/`replacements` or a ClickModel patch can read the same keys. It is rewritten
  whole by every promotion, so its history is the list of promotions.
- `<path>/<namespace>/<name>/evidence/<version>.json`, the **evidence**: the candidate's test metrics
  and baseline, its data window and fingerprint, every gate result, the canary's statistics and the
  decision. Written once per version.

Both are rendered deterministically (sorted keys, fixed formatting), so the same record always gives
the same bytes. The commit message ends with the trailer `Clickcast-Promotion: <namespace>/<name>@<version>`,
which is how a promotion is found again in the history (idempotence, and merged review branches).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import yaml

from clickcast.api.status import (
    CanaryStatus,
    CandidateStatus,
    DataWindowStatus,
    GateResult,
    Metrics,
    ModelVersionStatus,
    ReleaseOutcome,
)

TRAILER_KEY = "Clickcast-Promotion"
"""Commit trailer naming the promotion a commit records: `Clickcast-Promotion: <namespace>/<name>@<version>`."""
CHECKSUM_TRAILER_KEY = "Clickcast-Checksum"
"""Commit trailer with the promoted manifest's sha256 (informative)."""
EVIDENCE_KIND = "PromotionEvidence"
EVIDENCE_SCHEMA_VERSION = 1

_UNSAFE_REF_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class PromotionRecord:
    """One promotion of a ClickModel's candidate to stable, with the evidence it was decided on."""

    namespace: str
    name: str
    version: str
    uri: str
    manifest_sha256: str
    """sha256 of the version's artifact manifest."""
    time: datetime
    """When the promotion was decided (timezone-aware)."""
    previous_version: str | None = None
    """The stable version it replaces (None for the first)."""
    reason: str = "CanaryPassed"
    """Why, in a CamelCase word (as in `HistoryEntry.reason`)."""
    message: str = ""
    metrics: Metrics | None = None
    """The candidate's metrics on its test window."""
    baseline_metrics: Metrics | None = None
    """The GLM baseline's metrics on the same window."""
    data: DataWindowStatus | None = None
    """Training and test windows, rows and the dataset fingerprint."""
    gates: tuple[GateResult, ...] = ()
    reference_version: str | None = None
    """The stable version the relative gates compared with."""
    canary: CanaryStatus | None = None
    """The canary's statistics and verdict (None when the canary was skipped)."""

    def __post_init__(self) -> None:
        if self.time.tzinfo is None:
            raise ValueError("PromotionRecord.time must be timezone-aware")
        for field_name in ("namespace", "name", "version", "uri", "manifest_sha256"):
            if not getattr(self, field_name):
                raise ValueError(f"PromotionRecord.{field_name} must not be empty")

    @classmethod
    def from_status(
        cls,
        namespace: str,
        name: str,
        candidate: CandidateStatus,
        *,
        time: datetime,
        previous: ModelVersionStatus | None = None,
        canary: CanaryStatus | None = None,
        reason: str = "CanaryPassed",
        message: str = "",
    ) -> PromotionRecord:
        """The record of promoting `candidate` (its uri and checksum must be known)."""
        if candidate.uri is None or candidate.manifest_sha256 is None:
            raise ValueError(f"candidate {candidate.version} has no uri or checksum; it cannot be promoted")
        return cls(
            namespace=namespace,
            name=name,
            version=candidate.version,
            uri=candidate.uri,
            manifest_sha256=candidate.manifest_sha256,
            time=time,
            previous_version=previous.version if previous is not None else None,
            reason=reason,
            message=message,
            metrics=candidate.metrics,
            baseline_metrics=candidate.baseline_metrics,
            data=candidate.data,
            gates=tuple(candidate.gates),
            reference_version=candidate.reference_version,
            canary=canary,
        )

    @property
    def key(self) -> str:
        """`<namespace>/<name>@<version>`: the promotion's identity, the trailer's value."""
        return f"{self.namespace}/{self.name}@{self.version}"


def model_dir(rec: PromotionRecord, root: str) -> str:
    """`<root>/<namespace>/<name>`: the ClickModel's directory in the repository (a POSIX path)."""
    return "/".join(part for part in (root.strip("/"), rec.namespace, rec.name) if part)


def release_path(rec: PromotionRecord, root: str) -> str:
    return f"{model_dir(rec, root)}/release.yaml"


def evidence_path(rec: PromotionRecord, root: str) -> str:
    return f"{model_dir(rec, root)}/evidence/{rec.version}.json"


def _timestamp(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def render_release(rec: PromotionRecord) -> bytes:
    """The pin file: the serving version of one ClickModel, as Helm values (sorted keys)."""
    values: dict[str, Any] = {
        "clickModel": {"namespace": rec.namespace, "name": rec.name},
        "model": {
            "version": rec.version,
            "uri": rec.uri,
            "checksum": rec.manifest_sha256,
            "promotedAt": _timestamp(rec.time),
            "previousVersion": rec.previous_version,
            "evidence": f"evidence/{rec.version}.json",
        },
    }
    values["model"] = {k: v for k, v in values["model"].items() if v is not None}
    header = (
        f"# The version ClickModel {rec.namespace}/{rec.name} serves, written by clickcast on each promotion.\n"
        "# Helm values shape: .Values.model.{version,uri,checksum}. Evidence: see model.evidence.\n"
    )
    body = yaml.safe_dump(values, sort_keys=True, default_flow_style=False, allow_unicode=True)
    return (header + body).encode()


def _wire(model: Any) -> Any:
    return None if model is None else model.to_wire()


def evidence(rec: PromotionRecord) -> dict[str, Any]:
    """The evidence document (JSON-ready, camelCase as in the ClickModel status; absent values omitted)."""
    doc: dict[str, Any] = {
        "kind": EVIDENCE_KIND,
        "schemaVersion": EVIDENCE_SCHEMA_VERSION,
        "clickModel": {"namespace": rec.namespace, "name": rec.name},
        "version": rec.version,
        "uri": rec.uri,
        "checksum": rec.manifest_sha256,
        "previousVersion": rec.previous_version,
        "decision": {
            "outcome": ReleaseOutcome.PROMOTED.value,
            "reason": rec.reason,
            "message": rec.message,
            "time": _timestamp(rec.time),
        },
        "metrics": _wire(rec.metrics),
        "baselineMetrics": _wire(rec.baseline_metrics),
        "data": _wire(rec.data),
        "gates": [g.to_wire() for g in rec.gates],
        "referenceVersion": rec.reference_version,
        "canary": _wire(rec.canary),
    }
    return {k: v for k, v in doc.items() if v is not None}


def render_evidence(rec: PromotionRecord) -> bytes:
    """The evidence file's bytes: sorted keys, two-space indent, one trailing newline."""
    return (json.dumps(evidence(rec), sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def files(rec: PromotionRecord, root: str) -> Mapping[str, bytes]:
    """Every file one promotion writes, by path in the repository."""
    return {release_path(rec, root): render_release(rec), evidence_path(rec, root): render_evidence(rec)}


def trailer(rec: PromotionRecord) -> str:
    return f"{TRAILER_KEY}: {rec.key}"


def _fmt(x: float | None, spec: str = ".4g") -> str:
    return "n/a" if x is None else format(x, spec)


def commit_message(rec: PromotionRecord) -> str:
    """Subject, a short summary of the evidence, and the trailers (the promotion trailer last)."""
    was = f" (was {rec.previous_version})" if rec.previous_version else ""
    lines = [f"Promote {rec.namespace}/{rec.name} to {rec.version}{was}", ""]
    lines.append(f"Reason: {rec.reason}" + (f": {rec.message}" if rec.message else ""))
    if rec.metrics is not None:
        m = rec.metrics
        lines.append(
            f"Test metrics: poisson deviance {_fmt(m.poisson_deviance)}, mae {_fmt(m.mae)}, "
            f"calibration {_fmt(m.calibration)} on {m.rows} rows"
        )
    if rec.gates:
        passed = sum(g.passed for g in rec.gates)
        lines.append(f"Gates: {passed}/{len(rec.gates)} passed")
    if rec.canary is not None:
        c = rec.canary
        lines.append(
            f"Canary: {c.verdict.value}, deviance ratio {_fmt(c.deviance_ratio)} "
            f"[{_fmt(c.ci_low)}, {_fmt(c.ci_high)}] after {c.analyses} looks"
        )
    if rec.data is not None and rec.data.fingerprint:
        lines.append(f"Data fingerprint: {rec.data.fingerprint}")
    lines += ["", f"{CHECKSUM_TRAILER_KEY}: {rec.manifest_sha256}", trailer(rec)]
    return "\n".join(lines) + "\n"


def records(message: str, rec: PromotionRecord) -> bool:
    """Whether a commit message carries this promotion's trailer (a whole line, not a prefix of another key)."""
    wanted = trailer(rec)
    return any(line.strip() == wanted for line in message.splitlines())


def _ref_part(s: str) -> str:
    part = _UNSAFE_REF_CHARS.sub("-", s).replace("..", "-").strip(".-")
    return part.removesuffix(".lock") or "x"


def review_branch(rec: PromotionRecord) -> str:
    """`clickcast/promote-<namespace>-<name>-<version>`: the branch mode's branch for review."""
    return f"clickcast/promote-{_ref_part(rec.namespace)}-{_ref_part(rec.name)}-{_ref_part(rec.version)}"


def pending_ref(rec: PromotionRecord, mode: str) -> str:
    """Local ref (in the cache clone only) holding a commit made but not yet pushed."""
    return f"refs/clickcast/pending/{mode}/{_ref_part(rec.namespace)}/{_ref_part(rec.name)}/{_ref_part(rec.version)}"
