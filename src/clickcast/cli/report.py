"""`clickcast report NAME`: one HTML page on a ClickModel, from the cluster or from a status file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import fsspec
import typer
import yaml
from pydantic import ValidationError

from clickcast.analysis.evidence import EvaluationReport
from clickcast.api import resource
from clickcast.api.spec import ClickModelSpec
from clickcast.api.status import ClickModelStatus
from clickcast.cli.errors import UserError, fail, stderr


def _fetch(name: str, namespace: str | None, kubeconfig: Path | None) -> dict[str, Any]:
    """The ClickModel as the API server returns it (the only place this command talks to the cluster)."""
    from kubernetes import client, config  # noqa: PLC0415  (only this path needs the operator extra)
    from kubernetes.client.exceptions import ApiException  # noqa: PLC0415
    from kubernetes.config.config_exception import ConfigException  # noqa: PLC0415

    path = str(kubeconfig) if kubeconfig else None
    try:
        api = client.CustomObjectsApi(config.new_client_from_config(config_file=path))  # type: ignore[no-untyped-call]
        if namespace is None:
            _, active = config.list_kube_config_contexts(config_file=path)  # type: ignore[no-untyped-call]
            namespace = active.get("context", {}).get("namespace") or "default"
    except ConfigException as exc:
        raise UserError(f"no usable kubeconfig: {exc}") from exc
    try:
        obj: Any = api.get_namespaced_custom_object(resource.GROUP, resource.VERSION, namespace, resource.PLURAL, name)
    except ApiException as exc:
        if exc.status == 404:
            raise UserError(f"ClickModel {namespace}/{name} not found") from exc
        raise UserError(f"cannot read ClickModel {namespace}/{name}: {exc.status} {exc.reason}") from exc
    if not isinstance(obj, dict):
        raise UserError(f"ClickModel {namespace}/{name}: unexpected answer {type(obj).__name__}")
    return obj


def _load(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))  # JSON is YAML
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not YAML or JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a ClickModel or its status, got {type(data).__name__}")
    return data


def parse_object(doc: dict[str, Any]) -> tuple[str | None, ClickModelStatus, ClickModelSpec | None]:
    """Name, status and spec of a ClickModel (as `kubectl get -o yaml` prints it) or of a bare status."""
    is_object = doc.get("kind") == resource.KIND or "spec" in doc or "metadata" in doc
    raw_status = (doc.get("status") or {}) if is_object else doc
    name = (doc.get("metadata") or {}).get("name") if is_object else None
    try:
        status = ClickModelStatus.model_validate(raw_status)
        spec = ClickModelSpec.model_validate(doc["spec"]) if is_object and doc.get("spec") else None
    except ValidationError as exc:
        raise UserError(f"not a valid ClickModel status: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from exc
    return name, status, spec


def load_evaluation(url: str) -> EvaluationReport:
    """An evaluation run's `metrics.json`, given as the file or the run's directory (any fsspec URL)."""
    target = url.rstrip("/")
    if not target.endswith(".json"):
        target += "/metrics.json"
    try:
        with fsspec.open(target, "r", encoding="utf-8") as f:
            return EvaluationReport.model_validate(json.load(f))
    except (OSError, json.JSONDecodeError, ValidationError) as exc:
        raise UserError(f"{target}: not an evaluation report: {exc}") from exc


def stored_evaluations(store_url: str, name: str) -> list[str]:
    """Every evaluation run of `name` in a model store (`<store>/evaluations/<name>/<run>/metrics.json`)."""
    from clickcast.store import layout  # noqa: PLC0415

    pattern = f"{layout.evaluation_dir(store_url, name, '*')}/metrics.json"
    fs, _, paths = fsspec.get_fs_token_paths(pattern)
    return sorted(fs.unstrip_protocol(p) for p in paths)


def report(
    name: Annotated[
        str | None, typer.Argument(help="ClickModel name (default: the status file's metadata.name).")
    ] = None,
    *,
    namespace: Annotated[
        str | None, typer.Option("--namespace", "-n", help="Namespace (default: the kubeconfig context's).")
    ] = None,
    kubeconfig: Annotated[
        Path | None, typer.Option(help="Kubeconfig (default: $KUBECONFIG or ~/.kube/config).")
    ] = None,
    status_file: Annotated[
        Path | None,
        typer.Option(help="Read the ClickModel (or only its status) from this YAML/JSON file instead of the cluster."),
    ] = None,
    evaluation: Annotated[
        list[str] | None,
        typer.Option(help="An evaluation run's metrics.json or directory (fsspec URL; repeatable)."),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(
            help="Model store URL: add every evaluation run of NAME found there (a ClickModel the operator "
            "runs keeps them under <spec.store.url>/<namespace>; `clickcast run` under spec.store.url)."
        ),
    ] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the page.")] = Path("report.html"),
) -> None:
    """Write one self-contained HTML page on a ClickModel: daily predictions against real clicks, metrics per
    version and segment, the canary's looks, quality over time and the release history. It opens offline."""
    try:
        if status_file is not None:
            file_name, status, spec = parse_object(_load(status_file))
            name = name or file_name
            if name is None:
                raise UserError(f"{status_file} holds only a status: give the ClickModel's NAME")
        elif name is None:
            raise UserError("give a ClickModel NAME, or --status-file")
        else:
            _, status, spec = parse_object(_fetch(name, namespace, kubeconfig))
        urls = [*(evaluation or []), *(stored_evaluations(store, name) if store else [])]
        evaluations = [load_evaluation(url) for url in urls]
        # plotly is in the `report` extra: other commands (the operator's image) must start without it.
        from clickcast.report import build_report  # noqa: PLC0415

        page = build_report(name, status, evaluations, spec)
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(page, encoding="utf-8")
    except UserError as exc:
        fail(str(exc))
    stderr.print(f"wrote {output}", markup=False)
