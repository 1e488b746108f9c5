"""`wipp:hosts`: one `Host` per machine of the swarm, and the checks across the list (`check_host_list`)."""

from __future__ import annotations

import base64
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from .forms import (
    Flag,
    Keys,
    Mistake,
    Port,
    anchored,
    expected,
    not_of_its_form,
    one_host_address,
    refuse_all,
    repeated,
)

# One DNS label: letters, digits and '-', not at either end, up to 63 characters.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_KEY = r"(?:ssh-ed25519|ecdsa-sha2-nistp(?:256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,2}"


def address_or_host_name(address: str) -> str:
    """IPv4 only (the swarm scripts advertise IPv4): an address of one host, or a DNS name."""
    if re.fullmatch(r"[0-9.]+", address):
        return one_host_address(address)
    if len(address) > 253 or not re.fullmatch(rf"{_LABEL}(\.{_LABEL})*\.?", address):
        raise not_of_its_form()
    return address


def key_data_of_its_type(key: str) -> str:
    """A key's base64 data starts with its type's name, as every SSH public key's does: this catches
    a key pasted after the wrong type (an ed25519 key labelled ssh-rsa)."""
    key_type, data = key.split(" ")
    try:
        raw = base64.b64decode(data, validate=True)
    except ValueError:
        raise not_of_its_form() from None
    if raw[4 : 4 + int.from_bytes(raw[:4], "big")] != key_type.encode():
        raise not_of_its_form(f"the key's data is not an {key_type} key")
    return key


HostKey = Annotated[str, Field(pattern=anchored(_HOST_KEY)), AfterValidator(key_data_of_its_type)]


class Host(Keys):
    """One machine: where it is, its swarm role, and how commands reach it (here, or over SSH)."""

    name: str = Field(
        pattern=anchored(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}"), description="a name of letters, digits, _.-"
    )
    address: Annotated[str, AfterValidator(address_or_host_name)] = Field(
        description="an IPv4 address or a DNS host name"
    )
    role: Literal["manager", "worker"] = Field(description="manager or worker")
    local: Flag = False
    ssh_user: str = Field(
        "root", pattern=anchored(r"[a-z_][a-z0-9_.-]{0,31}"), description="a Unix user name such as ubuntu"
    )
    ssh_port: Port = 22
    host_key: HostKey | None = Field(None, description="a public host key, 'ssh-ed25519 AAAAC3Nza...' (ssh-keyscan)")

    @property
    def is_manager(self) -> bool:
        return self.role == "manager"

    @property
    def has_a_name(self) -> bool:
        """Whether `address` is a DNS name rather than an IPv4 address."""
        return not re.fullmatch(r"[0-9.]+", self.address)


def check_host_list(hosts: list[Host]) -> list[Host]:
    """Every mistake across the hosts at once: names and addresses repeated, no manager, a second
    local host, a loopback address while other hosts must reach it."""
    names = {i: host.name for i, host in enumerate(hosts)}
    addresses = {i: host.address for i, host in enumerate(hosts)}
    mistakes = repeated(names, "a unique name per host", ("name",))
    mistakes += repeated(addresses, "a unique address per host", ("address",))
    if not any(host.is_manager for host in hosts):
        mistakes.append(Mistake((), list(names.values()), expected("at least one host with role: manager")))
    local = [i for i, host in enumerate(hosts) if host.local]
    for i in local[1:]:
        mistakes.append(
            Mistake((i, "local"), True, expected(f"at most one host with local: true (hosts[{local[0]}] is)"))
        )
    if len(hosts) > 1:
        for i, address in addresses.items():
            if address == "localhost" or address.startswith("127."):
                reachable = f"an address the other hosts can reach ({address} is each machine's own loopback)"
                mistakes.append(Mistake((i, "address"), address, expected(reachable)))
    refuse_all(mistakes)
    return hosts
