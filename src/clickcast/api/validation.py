"""Offline validation of ClickModel manifests, with errors that name the field.

Used by `clickcast validate` and by anything that loads a manifest from disk;
the same models generate the CRD the API server validates with.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from clickcast.api.base import FieldRuleError
from clickcast.api.duration import DURATION_PATTERN
from clickcast.api.resource import DNS1123_SUBDOMAIN, ClickModel
from clickcast.api.spec import CRON_PATTERN, QUANTITY_PATTERN, URL_PATTERN

# What a pattern means, for humans; a regex is a poor error message.
_PATTERN_HINTS = {
    CRON_PATTERN: "a five-field cron expression such as '0 3 * * *', or @daily",
    DURATION_PATTERN: "a duration such as 90s, 10m, 1h30m or 7d",
    QUANTITY_PATTERN: "a Kubernetes quantity such as 500m, 2 or 4Gi",
    URL_PATTERN: "an fsspec URL (scheme://...) or an absolute path",
    DNS1123_SUBDOMAIN: "lower-case letters, digits, '-' and '.', starting and ending with a letter or digit",
}


@dataclass(frozen=True)
class FieldError:
    """One problem in one manifest: where (a JSON path such as spec.canary.steps[1]) and why."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True)
class DocumentResult:
    """The outcome of validating one YAML document of a file."""

    source: str
    index: int
    model: ClickModel | None
    errors: tuple[FieldError, ...]

    @property
    def label(self) -> str:
        return self.source if self.index == 0 else f"{self.source}[doc {self.index + 1}]"


def _path(loc: Iterable[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def _message(err: ErrorDetails) -> str:
    kind = err["type"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "string_pattern_mismatch":
        pattern = str(err.get("ctx", {}).get("pattern"))
        return f"invalid value {err['input']!r}: expected {_PATTERN_HINTS.get(pattern, 'a match for ' + pattern)}"
    if kind == "literal_error":
        return f"invalid value {err['input']!r}: {err['msg'][0].lower()}{err['msg'][1:]}"
    msg = err["msg"].removeprefix("Value error, ")
    return msg[0].lower() + msg[1:] if msg else kind


def field_errors(exc: ValidationError) -> list[FieldError]:
    """Turn a pydantic error into one FieldError per problem, with camelCase paths."""
    out = []
    for err in exc.errors():
        loc = list(err["loc"])
        cause = err.get("ctx", {}).get("error")
        if isinstance(cause, FieldRuleError):
            loc.append(cause.field)
        out.append(FieldError(_path(loc), _message(err)))
    return out


def validate_document(doc: Any) -> tuple[ClickModel | None, list[FieldError]]:
    """Validate one parsed manifest; return the model or the errors."""
    if not isinstance(doc, dict):
        return None, [FieldError("(document)", f"expected a mapping (a Kubernetes object), got {type(doc).__name__}")]
    try:
        return ClickModel.model_validate(doc), []
    except ValidationError as exc:
        return None, field_errors(exc)


def validate_text(text: str, source: str = "<stdin>") -> list[DocumentResult]:
    """Validate every YAML document in `text` (empty documents are skipped)."""
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(document)"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return [DocumentResult(source, 0, None, (FieldError(where, f"invalid YAML: {problem}"),))]
    if not docs:
        return [DocumentResult(source, 0, None, (FieldError("(document)", "no YAML document found"),))]
    results = []
    for i, doc in enumerate(docs):
        model, errors = validate_document(doc)
        results.append(DocumentResult(source, i, model, tuple(errors)))
    return results


def validate_file(path: Path) -> list[DocumentResult]:
    """Validate a manifest file; raise OSError if it cannot be read."""
    return validate_text(path.read_text(encoding="utf-8"), str(path))


def load_clickmodel(path: Path) -> ClickModel:
    """Load exactly one valid ClickModel from a file, or raise ValueError naming every problem."""
    results = validate_file(path)
    errors = [f"{r.label}: {e}" for r in results for e in r.errors]
    if errors:
        raise ValueError("; ".join(errors))
    if len(results) != 1 or results[0].model is None:
        raise ValueError(f"{path}: expected exactly one ClickModel, found {len(results)}")
    return results[0].model
