"""The commands the program renders for the private engines, as the engine tests run them."""

from __future__ import annotations

from typing import Any

from engine_hosts import EngineHost, engine_overrides
from harness import run_program


def single_stack_command(manager: EngineHost, name: str, **overrides: Any) -> dict[str, str]:
    """The inputs (create, delete, ...) of one command of the single stack pointed at the manager engine."""
    return run_program("single", engine_overrides(manager, **overrides)).named(name).inputs


def swarm_init(manager: EngineHost) -> dict[str, str]:
    """The first manager's swarm init (create) and leave (delete), as the program renders them."""
    return single_stack_command(manager, "swarm-init-wipp-host")
