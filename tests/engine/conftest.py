"""Fixtures for the tests that need a real Docker Engine.

`.ci/run` starts two private engines, each in a network namespace of its own
joined by a veth pair, and exports where they are. Without them (no root, no
dockerd) these tests skip with the reason, unless WIPP_REQUIRE_ENGINE=1 (CI),
where a missing engine is a failure.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
import single_stack
import standin_images
from docker_api import run_script
from engine_hosts import EngineHost, host_from_environment
from program_commands import swarm_init
from pulumi_cli import PulumiHome, engine_bin

VERSIONS = ("2.1.0", "2.2.0")


@pytest.fixture(scope="session")
def manager() -> EngineHost:
    return host_from_environment("manager")


@pytest.fixture(scope="session")
def worker() -> EngineHost:
    return host_from_environment("worker")


@pytest.fixture
def swarm(manager: EngineHost) -> str:
    """The manager in a swarm, initialized by the program's own init command; its node ID.

    Per test: an engine test may take the swarm down (destroy with leaveSwarmOnDestroy), and
    init on a node already in this swarm is a no-op that prints the same ID.
    """
    return run_script(swarm_init(manager)["create"]).stdout.strip()


@pytest.fixture(scope="session")
def images(manager: EngineHost, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    return standin_images.build(manager.engine, tmp_path_factory.mktemp("standins"), VERSIONS, "mongo:3.4")


@pytest.fixture(scope="session")
def pulumi_home(tmp_path_factory: pytest.TempPathFactory) -> PulumiHome:
    """The real engine's CLI with both plugins installed into a PULUMI_HOME of the session's own."""
    return PulumiHome.create(engine_bin(), tmp_path_factory.mktemp("pulumi-home"))


@pytest.fixture(scope="session", autouse=True)
def backups_removed() -> Iterator[None]:
    """The engine tests' backup places (`single_stack.BACKUPS`) go at the end of the session."""
    yield
    shutil.rmtree(single_stack.BACKUPS, ignore_errors=True)
