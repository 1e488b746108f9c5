"""What every part of the config shares: the base of each object, the errors, and the value forms
that several keys take (ports, flags, durations, addresses, folders), each with the check behind it.

Errors come in three kinds, and `load.py` words each the same way:
- `expected(text)`: the value is refused and `text` says what is expected instead;
- `not_of_its_form(detail)`: the value is not of the key's form, which the field's description
  gives; `detail` says more where it helps;
- `missing(text)`: a key that must be set is not; `text` says what to set and how.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Network, ip_network
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

from ..durations import milliseconds

# Addresses that stand in for real ones in examples (Pulumi.multi.yaml ships some): no host has one.
DOCUMENTATION_RANGES = {
    ip_network("192.0.2.0/24"): 5737,
    ip_network("198.51.100.0/24"): 5737,
    ip_network("203.0.113.0/24"): 5737,
    ip_network("2001:db8::/32"): 3849,
}
# Unicode's control, format and private characters, and the line and paragraph separators.
CONTROL_CATEGORIES = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")
# Go's time.Duration is a count of nanoseconds in an int64: Docker takes no longer duration.
LONGEST_GO_DURATION_MS = (2**63 - 1) // 10**6


def expected(text: str) -> PydanticCustomError:
    """The value is refused: `text` says what is expected instead."""
    return PydanticCustomError("wipp_expected", "{text}", {"text": text})


def not_of_its_form(detail: str = "") -> PydanticCustomError:
    """The value is not of the key's form (the field's description); `detail`, if any, says why."""
    return PydanticCustomError("wipp_form", "{text}", {"text": detail})


def missing(text: str) -> PydanticCustomError:
    """A key that must be set is not: `text` says what to set and how."""
    return PydanticCustomError("wipp_missing", "{text}", {"text": text})


@dataclass(frozen=True)
class Mistake:
    """One mistake at `loc`, a key path under the object being checked (("hosts", 1, "name"))."""

    loc: tuple[str | int, ...]
    value: Any
    error: PydanticCustomError


def refuse_all(mistakes: list[Mistake]) -> None:
    """Raises every mistake at once, each at its own key path; pydantic puts the object's path before it."""
    if mistakes:
        details = [InitErrorDetails(type=m.error, loc=m.loc, input=m.value) for m in mistakes]
        raise ValidationError.from_exception_data("wipp", details)


def repeated(values: dict[str, Any] | dict[int, Any], what: str, under: tuple[str, ...] = ()) -> list[Mistake]:
    """A mistake for each key whose value (or its lowercase) an earlier key already has.

    `what` is what each key must have ("a volume of its own"); the mistake is at the key, or at
    `(key, *under)`, and says which value repeats.
    """
    first_key_with: dict[Any, Any] = {}
    mistakes = []
    for key, value in values.items():
        same = value.lower() if isinstance(value, str) else value
        if same in first_key_with:
            mistakes.append(Mistake((key, *under), value, expected(f"{what} ({value!r} repeats)")))
        else:
            first_key_with[same] = key
    return mistakes


class Keys(BaseModel):
    """An object of the stack file: its keys in camelCase (a field `ssh_port` is the key `sshPort`),
    no key the program does not know, nothing changed after the check, and no control character."""

    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel, validate_by_name=True)

    @field_validator("*", mode="before")
    @classmethod
    def no_control_characters(cls, value: Any) -> Any:
        # A newline would split a folder in the shared-folder script's one-per-line list, and a pattern
        # alone would refuse it without saying why. Lists of strings are checked item by item.
        items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
        mistakes = []
        for index, text in items:
            controls = (
                [c for c in text if unicodedata.category(c) in CONTROL_CATEGORIES] if isinstance(text, str) else []
            )
            if controls:
                loc = () if index is None else (index,)
                mistakes.append(Mistake(loc, text, not_of_its_form(f"no control character such as {controls[0]!r}")))
        refuse_all(mistakes)
        return value


def anchored(regex: str) -> str:
    """A pattern for the whole text: unlike `$`, `\\z` never matches before a trailing newline."""
    return rf"\A(?:{regex})\z"


def whole_number(value: Any) -> Any:
    """A port as the stack file gives it: 8080 or "8080"; not `true` (to Python a bool is an int), 8080.0 or "08080"."""
    if isinstance(value, bool) or not isinstance(value, int | str) or not re.fullmatch(r"[1-9][0-9]*", str(value)):
        raise not_of_its_form()
    return value


def true_or_false(value: Any) -> bool:
    """A flag: true or false (YAML's or the CLI's text), not the yes, on, 1, t or y pydantic would also take."""
    if not isinstance(value, bool) and str(value).lower() not in ("true", "false"):
        raise not_of_its_form()
    return str(value).lower() == "true"


def within_go_durations(duration: str) -> str:
    if not 0 < milliseconds(duration) <= LONGEST_GO_DURATION_MS:
        raise not_of_its_form()
    return duration


Port = Annotated[
    int, BeforeValidator(whole_number), Field(ge=1, le=65535, description="a TCP port number from 1 to 65535")
]
Flag = Annotated[bool, BeforeValidator(true_or_false), Field(description="true or false")]
Duration = Annotated[
    str,
    AfterValidator(within_go_durations),
    Field(
        pattern=anchored(r"(?:[0-9]+(?:ms|s|m|h))+"),
        description="a positive duration of whole numbers with ms, s, m or h, such as 500ms, 1m30s or 20m",
    ),
]


def not_a_documentation_address(text: str, network: IPv4Network | IPv6Network) -> None:
    for documentation, rfc in DOCUMENTATION_RANGES.items():
        if network.version == documentation.version and network.overlaps(documentation):
            example = f"{text} is in or overlaps {documentation}, documentation addresses (RFC {rfc}) that"
            raise expected(
                f"real addresses: {example} stand in for real ones in examples; set the real addresses of the hosts"
            )


def one_host_address(text: str) -> str:
    """An IPv4 address a real host can have: not 0.0.0.0, multicast, broadcast or a documentation one."""
    try:
        address = IPv4Address(text)
    except ValueError:
        raise not_of_its_form() from None
    if address.is_unspecified or address.is_multicast or text == "255.255.255.255":
        raise expected(f"the address of one host ({text} is no single host's, and swarm init refuses it)")
    not_a_documentation_address(text, ip_network(address))
    return text


def network_of_hosts(text: str) -> str:
    """A CIDR with its prefix length, as its network (10.0.0.7/24 is 10.0.0.0/24); no documentation range."""
    cidr_form = "a CIDR with a prefix length, such as 10.0.0.0/24 or 10.0.0.5/32"
    if "/" not in text:
        raise expected(cidr_form)
    try:
        network = ip_network(text, strict=False)
    except ValueError:
        raise expected(cidr_form) from None
    not_a_documentation_address(text, network)
    return str(network)
