"""What the config checks read from the machine `pulumi` runs on, each in one function that the mock
tests replace (tests/harness.py, `FakeMachine`), since the answers depend on the machine:

- `stack_file_text`: the stack file as the user wrote it (`Pulumi.<stack>.yaml`), which shows what
  YAML turned into a number before the CLI handed the value on as text;
- `ipv4_addresses`: the IPv4 addresses a host name resolves to from here, within `LOOKUP_SECONDS`;
- `is_this_machines_address`: whether an IPv4 address is one of this machine's.
"""

from __future__ import annotations

import errno
import socket
import threading
from pathlib import Path

import pulumi
import yaml

LOOKUP_SECONDS = 5.0  # a name that takes longer to resolve counts as one that does not resolve


def stack_file_text() -> str | None:
    """The text of this stack's file: `Pulumi.<stack>.yaml` in the project's folder (the one holding
    Pulumi.yaml), or in Pulumi.yaml's `stackConfigDir`; None when there is none."""
    project = Path(pulumi.get_root_directory() or ".")
    try:
        settings = yaml.safe_load((project / "Pulumi.yaml").read_text())
    except (OSError, yaml.YAMLError):
        settings = None
    folder = settings.get("stackConfigDir") if isinstance(settings, dict) else None
    path = project / str(folder or "") / f"Pulumi.{pulumi.get_stack()}.yaml"
    try:
        return path.read_text()
    except OSError:
        return None


def ipv4_addresses(name: str) -> list[str]:
    """The IPv4 addresses `name` resolves to from this machine (DNS, /etc/hosts, as `ssh` would
    find it); none when it does not resolve, or not within LOOKUP_SECONDS (the lookup is left to
    finish in the background: the resolver has no timeout of its own to pass)."""
    found: list[str] = []

    def look_up() -> None:
        try:
            answers = socket.getaddrinfo(name, None, socket.AF_INET, socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return
        found.extend(dict.fromkeys(str(answer[4][0]) for answer in answers))

    lookup = threading.Thread(target=look_up, name=f"resolve {name}", daemon=True)
    lookup.start()
    lookup.join(LOOKUP_SECONDS)
    return [] if lookup.is_alive() else found


def is_this_machines_address(address: str) -> bool:
    """Whether the IPv4 `address` is one of this machine's: a socket can be bound to it (loopback
    addresses always are). Only the kernel's "not available" counts as no; with the sysctl
    net.ipv4.ip_nonlocal_bind set, every address binds, and so passes."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((address, 0))
        except OSError as refused:
            return refused.errno != errno.EADDRNOTAVAIL
    return True
