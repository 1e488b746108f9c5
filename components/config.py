"""Reads the stack's `wipp:*` config into the validated `Settings`, or stops with every mistake.

Every mistake is reported at once, in one `pulumi.RunError`, each naming the key path
(`wipp:hosts[1].address`), the bad value and the form expected (the field's description), so
`pulumi preview` stops before anything is touched. A key the program does not know, at any level,
is refused with the closest known key suggested.
"""

from __future__ import annotations

import difflib
import json
from types import UnionType
from typing import Any, Union, get_args, get_origin

import pulumi
from pulumi.runtime import config as runtime_config
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from .settings import Mistake, Settings

NAMESPACE = "wipp"


def load_settings(cfg: pulumi.Config | None = None) -> Settings:
    """Reads and validates every `wipp:*` key; raises one `pulumi.RunError` listing every mistake."""
    cfg = cfg or pulumi.Config(NAMESPACE)
    errors: list[str] = []
    raw = _raw_values(cfg, errors)
    beside: list[Mistake] = []  # mistakes a check finds outside the key it validates
    try:
        settings = Settings.model_validate(raw, context={"beside": beside})
    except ValidationError as invalid:
        errors += [_message(error) for error in invalid.errors()]
    errors += [_message({"loc": m.loc, "type": m.kind, "input": m.value, "ctx": {"text": m.text}}) for m in beside]
    if len(errors) > 1:
        listed = "\n".join(f"  - {e}" for e in errors)
        raise pulumi.RunError(f"{len(errors)} mistakes in the stack's {NAMESPACE}:* config:\n{listed}")
    if errors:
        raise pulumi.RunError(errors[0])
    return settings


def _raw_values(cfg: pulumi.Config, errors: list[str]) -> dict[str, Any]:
    """Every `wipp:*` key the stack sets: objects and lists decoded, secrets as secret Outputs."""
    keys = {k.split(":", 1)[1] for k in runtime_config.CONFIG.get() if k.startswith(f"{NAMESPACE}:")}
    keys |= {key for key in _fields(Settings) if cfg.get(key) is not None}  # set in the environment
    raw: dict[str, Any] = {}
    for key in sorted(keys):
        if runtime_config.is_config_secret(f"{NAMESPACE}:{key}"):
            raw[key] = cfg.get_secret(key)
        elif _takes_object(key):
            try:
                raw[key] = json.loads(cfg.get(key) or "")
            except json.JSONDecodeError:
                errors.append(_invalid(key, cfg.get(key), "a YAML object or list in the stack file"))
        else:
            raw[key] = cfg.get(key)
    return raw


def _takes_object(key: str) -> bool:
    """Whether a key holds an object or list, which the CLI hands over as JSON text."""
    field, annotation, _ = _walk((key,))
    return field is not None and any(get_origin(t) is list or _is_model(t) for t in _members(annotation))


# -- walking the model along an error's location ----------------------------------------------------
def _members(annotation: Any) -> tuple[Any, ...]:
    return get_args(annotation) if get_origin(annotation) in (Union, UnionType) else (annotation,)


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _fields(annotation: Any) -> dict[str, FieldInfo]:
    """The keys an object of this type may hold, by their name in the stack file."""
    return {f.alias or n: f for m in _members(annotation) if _is_model(m) for n, f in m.model_fields.items()}


def _walk(loc: tuple[str | int, ...]) -> tuple[FieldInfo | None, Any, str]:
    """Along an error's location: the field it reaches (for its description), its type and its key path."""
    field, annotation, path = None, Settings, ""
    for part in loc:
        # A key left at its default is located by its Python name.
        by_name = {n: f for m in _members(annotation) if _is_model(m) for n, f in m.model_fields.items()}
        if isinstance(part, int) and get_origin(annotation) is list:
            item = FieldInfo.from_annotation(get_args(annotation)[0])
            field, annotation, path = item if item.description else field, item.annotation, f"{path}[{part}]"
            continue
        field = _fields(annotation).get(str(part)) or by_name.get(str(part))
        key = field.alias if field is not None and field.alias else str(part)
        path = f"{path}.{key}" if path else key
        if field is None:
            return None, None, path
        annotation = field.annotation
    return field, annotation, path


# -- messages ---------------------------------------------------------------------------------------
def _invalid(path: str, value: Any, expected: str) -> str:
    shown = repr(value) if isinstance(value, str) else json.dumps(value, default=str)
    return f"config {NAMESPACE}:{path} = {shown} is invalid: expected {expected}"


def _unknown_key(path: str, known: list[str]) -> str:
    key = path.rpartition(".")[2]
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6) or [k for k in known if k.lower() == key.lower()]
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"config {NAMESPACE}:{path} is not a key this program knows: {hint}known keys here: {', '.join(known)}"


def _message(error: dict[str, Any]) -> str:
    loc, kind, text = tuple(error["loc"]), error["type"], error.get("ctx", {}).get("text", "")
    field, _, path = _walk(loc)
    if kind == "extra_forbidden":
        return _unknown_key(path, list(_fields(_walk(loc[:-1])[1])))
    form = field.description if field is not None and field.description else error["msg"].lower()
    if kind == "wipp_missing":
        return f"config {NAMESPACE}:{path} is missing: {text}"
    if kind == "missing" and len(loc) == 1 and not _takes_object(path):
        return (
            f"config {NAMESPACE}:{path} is missing: expected {form}; Pulumi.yaml gives it a default, "
            f"or set it with `pulumi config set {NAMESPACE}:{path} <value>`"
        )
    if kind == "missing":
        return f"config {NAMESPACE}:{path} is missing: expected {form}"
    return _invalid(path, error.get("input"), text if kind == "wipp_expected" else f"{form} ({text})" if text else form)
