"""The outcome of runs as the store holds it, and whether a spec can run here: read by every shell."""

from __future__ import annotations

from collections.abc import Iterator

import fsspec
from botocore.exceptions import (
    CredentialRetrievalError,
    NoAuthTokenError,
    NoCredentialsError,
    PartialCredentialsError,
    TokenRetrievalError,
)

from clickcast.analysis.evidence import EvaluationReport
from clickcast.api.spec import ClickModelSpec
from clickcast.api.status import ClickModelStatus, Phase
from clickcast.core.observed import RunObservation, RunState, TrainedVersion
from clickcast.core.plan import VersionPin
from clickcast.model.evidence import read_evidence
from clickcast.store import layout
from clickcast.store.credentials import CredentialsError


def _urls(spec: ClickModelSpec) -> Iterator[tuple[str, str]]:
    yield "spec.data.url", spec.data.url
    yield "spec.store.url", spec.store.url
    if spec.store.prediction_log_url:
        yield "spec.store.predictionLogUrl", spec.store.prediction_log_url
    if spec.scoring is not None:
        yield "spec.scoring.dataUrl", spec.scoring.data_url
        yield "spec.scoring.outputUrl", spec.scoring.output_url


def spec_blocker(spec: ClickModelSpec) -> str | None:
    """Why a valid spec cannot run with this installation: a URL scheme without an fsspec filesystem."""
    for path, url in _urls(spec):
        protocol = url.split("://", 1)[0] if "://" in url else "file"
        try:
            fsspec.get_filesystem_class(protocol)
        except ImportError as exc:
            return f"{path}: the {protocol}:// filesystem is not installed ({exc})"
        except ValueError:
            return f"{path}: no filesystem is known for {protocol}://"
    return None


class StoreRefused(Exception):  # noqa: N818  (a verdict of the store, reported as Observed.store_error)
    """The store refused a read (no credentials, access denied): not "not written yet", and no retry mends it."""


CREDENTIAL_ERRORS: tuple[type[Exception], ...] = (
    PermissionError,  # s3fs's AccessDenied, a local file's mode
    CredentialsError,  # a storage options file clickcast cannot read
    NoCredentialsError,  # none found (botocore's, not an OSError)
    PartialCredentialsError,
    CredentialRetrievalError,
    NoAuthTokenError,
    TokenRetrievalError,
)


def refusal(exc: BaseException) -> str | None:
    """What to say of a store read that failed for lack of credentials or permission (None: another fault).

    The type and the first line of the library's message, bounded: they name the URL or the missing piece,
    never a credential's value.
    """
    if not isinstance(exc, CREDENTIAL_ERRORS):
        return None
    first = next(iter(str(exc).strip().splitlines()), "")
    return f"{type(exc).__name__}: {first}"[:300].rstrip(": ")


def read_report(url: str) -> EvaluationReport | None:
    """An evaluation run's report; None while it is not there or not whole (the shell looks again).

    Raises StoreRefused when the store refuses the read: that never ends by waiting.
    """
    try:
        with fsspec.open(url, "r") as handle:
            return EvaluationReport.model_validate_json(handle.read())
    except Exception as exc:
        why = refusal(exc)
        if why is not None:
            raise StoreRefused(why) from exc
        if isinstance(exc, OSError | ValueError):
            return None
        raise


def evaluation_report(spec: ClickModelSpec, name: str, run_name: str) -> EvaluationReport | None:
    """The report of evaluation run `run_name` of ClickModel `name`, where every shell has it write."""
    return read_report(f"{layout.evaluation_dir(spec.store.url, name, run_name)}/metrics.json")


def prediction_log(name: str, spec: ClickModelSpec) -> str:
    """Where the serving workloads of `name` log their predictions."""
    return spec.store.prediction_log_url or layout.prediction_log_url(spec.store.url, name)


def trained_version(spec: ClickModelSpec, name: str, version: str) -> TrainedVersion | None:
    """A published version with its manifest checksum and evidence; None while it is not published.

    Raises StoreRefused when the store refuses the read (other faults raise as they are).
    """
    try:
        found = read_evidence(spec.store.url, name, version)
    except Exception as exc:
        why = refusal(exc)
        if why is not None:
            raise StoreRefused(why) from exc
        raise
    if found is None:
        return None
    return TrainedVersion(VersionPin(version, found.uri, found.manifest_sha256), found.evidence)


def trained_to_read(status: ClickModelStatus, training: RunObservation | None) -> str | None:
    """The version whose evidence the core needs now (training or validating it, its run not still going)."""
    t = status.training
    if status.phase not in (Phase.TRAINING, Phase.VALIDATING) or t is None or not t.version:
        return None
    if status.phase is Phase.VALIDATING or training is None or training.state is not RunState.RUNNING:
        return t.version
    return None


def evaluation_run_name(status: ClickModelStatus) -> str | None:
    """The evaluation run status names: the canary's look, else monitoring's quality run."""
    if status.canary is not None and status.canary.job_name is not None:
        return status.canary.job_name
    return status.monitoring.job_name if status.monitoring is not None else None
