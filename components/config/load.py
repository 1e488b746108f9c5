"""`load_settings`: reads every `wipp:*` key the Pulumi CLI passes, checks them all with `Settings`,
and stops the program with one report that lists every mistake, each as

    config wipp:<key path> = <value> is invalid: expected <form>

where the form is what the check says is expected, or the field's description. A key this
program does not know is named with the closest known key; a missing one says what to set.
A text key written in the stack file as a plain YAML number (`wipp:version: 2.10`) is refused:
the CLI hands the program the number's text (2.1), not what the user wrote.
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Any, get_args

import pulumi
import yaml
from pulumi.runtime import config as runtime_config
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from . import machine
from .forms import expected
from .settings import Findings, Settings

# The plain YAML scalars the CLI's YAML reader (go-yaml) takes for numbers, as the CLI 3.259 passes
# them on (measured): 2.10 as 2.1, 12.50 as 12.5, 010 as 8, 09 as 9, 0o17 as 15, 0x10 as 16, 0b101
# as 5, 1e3 as 1000, +12 as 12, 1_000 as 1000 (its underscores dropped first). 1:20 stays text.
_CLI_NUMBER = re.compile(
    r"[-+]?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?)"
)


def load_settings(cfg: pulumi.Config | None = None) -> Settings:
    """Reads and checks every `wipp:*` key; raises one `pulumi.RunError` listing every mistake."""
    cfg = cfg or pulumi.Config("wipp")
    findings = Findings()
    raw = _raw_values(cfg, findings)
    unquoted = _numbers_written_for_text(raw)
    raw.update({key: written for key, (written, _) in unquoted.items()})  # its own check reads what was written
    settings = None
    try:
        settings = Settings.model_validate(raw, context={"findings": findings})
    except ValidationError as invalid:  # a key without a default is missing: no check between keys ran
        findings.mistakes += invalid.errors()
    refused = {tuple(mistake["loc"]) for mistake in findings.mistakes}
    # Quotes would not mend a value its key refuses anyway (memory: 4096): that mistake alone is shown.
    for key, (_, mistake) in unquoted.items():
        if (key,) not in refused:
            findings.mistakes.append(mistake)
    errors = [_message(mistake) for mistake in findings.mistakes]
    if settings is None or errors:
        listed = f"{len(errors)} mistakes in the stack's wipp:* config:" + "".join(f"\n  - {e}" for e in errors)
        raise pulumi.RunError(errors[0] if len(errors) == 1 else listed)
    return settings


def _raw_values(cfg: pulumi.Config, findings: Findings) -> dict[str, Any]:
    """Every `wipp:*` key set: single values as the CLI's text ("18080", "true"), objects and
    lists decoded from the CLI's JSON, secrets as secret Outputs (never read in plain text here)."""
    in_config = {key.split(":", 1)[1] for key in runtime_config.CONFIG.get() if key.startswith("wipp:")}
    # A key may also come from the environment (PULUMI_CONFIG_...), which only `cfg.get` reads.
    aliases = {info.alias for info in Settings.model_fields.values() if info.alias}
    in_environment = {key for key in aliases if cfg.get(key) is not None}
    raw: dict[str, Any] = {}
    for key in sorted(in_config | in_environment):
        text = cfg.get(key) or ""
        if runtime_config.is_config_secret(f"wipp:{key}"):
            raw[key] = cfg.get_secret(key)
        elif text[:1] in ("{", "["):  # an object or a list: no single value of any key starts so
            try:
                raw[key] = json.loads(text)
            except json.JSONDecodeError:
                findings.mistakes.append(
                    ErrorDetails(
                        type="wipp_expected",
                        loc=(key,),
                        msg="",
                        input=text,
                        ctx={"text": "a YAML object or list in the stack file"},
                    )
                )
        else:
            raw[key] = text
    return raw


def _numbers_written_for_text(raw: dict[str, Any]) -> dict[str, tuple[str, ErrorDetails]]:
    """Each text key (an image tag, an image, a name) that the stack file holds as a plain YAML
    number: `wipp:version: 2.10` is the number 2.1 to YAML, and the CLI hands the program "2.1".
    Keyed by the key: what the file says, and the mistake. A value from `pulumi config set` is
    written quoted, and one from the environment is not in the file: neither is refused."""
    in_file = _stack_file_scalars()
    found: dict[str, tuple[str, ErrorDetails]] = {}
    for key, handed in raw.items():
        node = in_file.get(key)
        if not isinstance(handed, str) or node is None or node.style is not None or not _is_text_key(key):
            continue
        written = node.value
        if not _CLI_NUMBER.fullmatch(written.replace("_", "")):
            continue
        why = (
            f"the value in quotes, wipp:{key}: {written!r} in Pulumi.{pulumi.get_stack()}.yaml "
            f"(unquoted, YAML reads {written} as the number {handed})"
        )
        error = expected(why)
        found[key] = (
            written,
            ErrorDetails(
                type=error.type, loc=(key,), msg=error.message(), input=_number(handed), ctx=error.context or {}
            ),
        )
    return found


def _number(text: str) -> Any:
    """The number the CLI's text stands for (shown unquoted), or the text if it is none."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text
    return value if isinstance(value, int | float) else text


def _stack_file_scalars() -> dict[str, yaml.ScalarNode]:
    """The stack file's single `wipp:*` values as YAML nodes (the text as written, and whether it
    was quoted), by key; none when there is no file, or one PyYAML cannot read."""
    text = machine.stack_file_text()
    try:
        document = yaml.compose(text, Loader=yaml.SafeLoader) if text else None
    except yaml.YAMLError:
        return {}
    if not isinstance(document, yaml.MappingNode):
        return {}
    config = next((value for key, value in document.value if key.value == "config"), None)
    if not isinstance(config, yaml.MappingNode):
        return {}
    return {
        key.value.removeprefix("wipp:"): value
        for key, value in config.value
        if isinstance(key, yaml.ScalarNode) and key.value.startswith("wipp:") and isinstance(value, yaml.ScalarNode)
    }


def _is_text_key(key: str) -> bool:
    """A key whose value is text (a tag, a name, a duration), not a number or a flag."""
    field = next((info for info in Settings.model_fields.values() if info.alias == key), None)
    return field is not None and field.annotation not in (int, bool)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The object model a field holds: itself, or inside a list or an optional (list[Host], Storage | None)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for inner in get_args(annotation):
        found = _model_in(inner)
        if found is not None:
            return found
    return None


def _along(loc: tuple[str | int, ...]) -> tuple[FieldInfo | None, type[BaseModel] | None]:
    """The field an error's key path ends at (its description is the key's form), and the model
    that field belongs to. A list index stays on the list's field: an item's form is the list's."""
    model: type[BaseModel] | None = Settings
    found: FieldInfo | None = None
    for part in loc:
        if isinstance(part, int):
            continue
        if model is None:
            return None, None
        owner = model
        found = next((info for info in owner.model_fields.values() if info.alias == part), None)
        if found is None:
            return None, owner
        model = _model_in(found.annotation)
    return found, model


def _known_keys(model: type[BaseModel] | None) -> list[str]:
    if model is None:
        return []
    return [info.alias or name for name, info in model.model_fields.items()]


def _key_path(loc: tuple[str | int, ...]) -> str:
    """("hosts", 1, "address") as hosts[1].address."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


def _shown(value: Any) -> str:
    """A value as the user wrote it: text quoted, anything else as JSON (an object as its keys)."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, BaseModel):
        value = value.model_dump(by_alias=True)
    return json.dumps(value, default=str)


def _message(error: ErrorDetails) -> str:
    loc, kind = tuple(error["loc"]), error["type"]
    detail = str(error.get("ctx", {}).get("text", ""))
    path = _key_path(loc)
    if kind == "extra_forbidden":
        known, key = _known_keys(_along(loc[:-1])[1]), str(loc[-1])
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6) or [k for k in known if k.lower() == key.lower()]
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"config wipp:{path} is not a key this program knows: {hint}known keys here: {', '.join(known)}"
    if kind == "wipp_missing":
        return f"config wipp:{path} is missing: {detail}"
    field = _along(loc)[0]
    form = field.description if field is not None and field.description else error["msg"].lower()
    if kind == "missing":
        where = " (Pulumi.yaml gives the single values a default)" if len(loc) == 1 else ""
        return f"config wipp:{path} is missing: expected {form}{where}"
    if kind == "wipp_expected":
        what = detail
    elif detail:
        what = f"{form} ({detail})"
    else:
        what = form
    return f"config wipp:{path} = {_shown(error.get('input'))} is invalid: expected {what}"
