"""Fixtures for the tests that need a real Docker Engine.

`.ci/run` starts two private engines, each in a network namespace of its own, joined by a
bridge in a "lan" namespace, both with the test world's registry as their Docker Hub mirror,
and exports where they are. The `registry` fixture starts that registry (tests/engine/registry.py)
and connects it to the lan's bridge at the address the engines were given. Without them (no
root, no dockerd) these tests skip with the reason, unless WIPP_REQUIRE_ENGINE=1 (CI), where a
missing engine is a failure.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
import single_stack
import standin_images
from docker_api import containers, run_script, wait_containers_gone
from engine_hosts import EngineHost, host_from_environment
from prerequisites import require_root, skip_or_fail
from program_commands import swarm_init
from pulumi_cli import PulumiHome, engine_bin
from registry import Registry

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
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """The test world's registry, on the lan's bridge at WIPP_TEST_REGISTRY_ADDR (the engines' mirror).

    Its link into the lan is `registry.links[0]`. Started for the session, stopped by PID after;
    its storage (with any padded images) is removed, not left in pytest's kept temp folders.
    """
    require_root("a registry in a network namespace of its own")
    lan = os.environ.get("WIPP_TEST_LAN_NETNS")
    if not lan:
        skip_or_fail("no test lan (WIPP_TEST_LAN_NETNS unset): run `bash .ci/run` as root")
    made = Registry.start(tmp_path_factory.mktemp("registry"))
    try:
        made.connect(lan, os.environ["WIPP_TEST_REGISTRY_ADDR"], bridge=os.environ["WIPP_TEST_LAN_BRIDGE"])
        yield made
    finally:
        made.stop()
        shutil.rmtree(made.storage, ignore_errors=True)


@pytest.fixture(scope="session")
def login_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A lab's own registry that requires a login (htpasswd, bcrypt; plain HTTP: the engines list it
    with --insecure-registry), on the lan's bridge at WIPP_TEST_LOGIN_REGISTRY_ADDR. The stand-ins
    are in it under their names as written (`mongo:3.4`, `wipp/wipp:2.2.0`: pull them as
    `<address>:5000/<name>`). `registry.credentials` is (user, password), the password new each session.
    """
    require_root("a registry in a network namespace of its own")
    lan = os.environ.get("WIPP_TEST_LAN_NETNS")
    if not lan:
        skip_or_fail("no test lan (WIPP_TEST_LAN_NETNS unset): run `bash .ci/run` as root")
    made = Registry.start(tmp_path_factory.mktemp("login-registry"), ("wipp-lab", secrets.token_urlsafe(18)))
    try:
        made.connect(lan, os.environ["WIPP_TEST_LOGIN_REGISTRY_ADDR"], bridge=os.environ["WIPP_TEST_LAN_BRIDGE"])
        standin_images.push(made, tmp_path_factory.mktemp("login-standins"), VERSIONS, "mongo:3.4", as_mirror=False)
        yield made
    finally:
        made.stop()
        shutil.rmtree(made.storage, ignore_errors=True)


@pytest.fixture(scope="session")
def images(
    registry: Registry, manager: EngineHost, worker: EngineHost, tmp_path_factory: pytest.TempPathFactory
) -> list[str]:
    """The stand-ins, pushed into the registry under their Docker Hub names and removed from both
    engines (an earlier session on the same engines may have pulled them): each test that deploys
    them makes its engines pull them, as a user's hosts do."""
    tags = standin_images.push(registry, tmp_path_factory.mktemp("standins"), VERSIONS, "mongo:3.4")
    for host in (manager, worker):
        standin_images.remove_local(host.engine, tags, registry)
    return tags


@pytest.fixture(scope="session")
def pulumi_home(tmp_path_factory: pytest.TempPathFactory) -> PulumiHome:
    """The real engine's CLI with both plugins installed into a PULUMI_HOME of the session's own."""
    return PulumiHome.create(engine_bin(), tmp_path_factory.mktemp("pulumi-home"))


@pytest.fixture(scope="module", autouse=True)
def module_leaves_its_engines_as_it_found_them(request: pytest.FixtureRequest) -> Iterator[None]:
    """A module that leaves a container on its world's engines fails (its last test reports it):
    the next module on that world, or a test run alone there (.ci/standalone), would start on it."""
    if not os.environ.get("WIPP_TEST_MANAGER_HOST"):
        yield  # no engines here: the tests that need them skip, saying so
        return
    hosts = {"manager": host_from_environment("manager"), "worker": host_from_environment("worker")}
    before = {role: {c["Id"] for c in containers(host.engine)} for role, host in hosts.items()}
    yield
    for role, host in hosts.items():

        def made_here(container: dict[str, Any], role: str = role) -> bool:
            return container["Id"] not in before[role]

        wait_containers_gone(host.engine, made_here, f"{request.module.__name__} left containers on the {role} engine")


@pytest.fixture(scope="session", autouse=True)
def backups_removed() -> Iterator[None]:
    """The engine tests' backup places (`single_stack.BACKUPS`) go at the end of the session."""
    yield
    shutil.rmtree(single_stack.BACKUPS, ignore_errors=True)
