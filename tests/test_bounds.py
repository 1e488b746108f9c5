"""Every host step is bounded (components/host_command.py, scripts/lib/common.sh): a docker call with no
answer, and a step that hangs anywhere else, end on their own, naming the step, the host and the call."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from google.protobuf import json_format
from harness import host_view, run_program

from components.host_command import RUNNER_PATTERN, script_on_stdin, step_header
from components.scripts import COMMON, render


def _run_step(script: str, bound_s: int, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], float]:
    """`script` as pulumi-command runs a step: the runner line, the step's header and script on stdin."""
    runner, stdin = script_on_stdin(
        step_header("preflight-wipp-worker-2", "wipp-worker-2", bound_s) + script, None, bound_s
    )
    started = time.monotonic()
    ran = subprocess.run(["sh", "-c", runner], input=stdin, capture_output=True, text=True, env=env, timeout=120)
    return ran, time.monotonic() - started


@pytest.fixture
def hung_docker(tmp_path: Path) -> dict[str, str]:
    """A PATH whose `docker` never answers (an engine that hangs), and a 2 s bound on docker calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text("#!/bin/sh\nexec sleep 600\n")
    (bin_dir / "docker").chmod(0o755)
    return {"PATH": f"{bin_dir}:/usr/sbin:/usr/bin:/sbin:/bin", "DOCKER_ANSWER_S": "2"}


def test_a_docker_call_with_no_answer_fails_the_step_naming_the_step_the_host_and_the_call(
    hung_docker: dict[str, str],
) -> None:
    preflight = host_view(run_program("multi").named("preflight-wipp-worker-2").inputs)["create"]
    ran, took = _run_step(preflight.split("\n", 3)[3], 600, hung_docker)  # the program's own header, then ours
    assert ran.returncode != 0 and took < 60
    assert (
        "preflight-wipp-worker-2 on wipp-worker-2: 'docker info' got no answer from the Docker Engine within 2 s"
        in ran.stderr
    ), ran.stderr


def test_a_step_that_hangs_elsewhere_ends_at_its_bound_naming_the_step_and_the_host(tmp_path: Path) -> None:
    script = COMMON.read_text() + "echo 'waiting for the lock' >&2\nsleep 600\n"
    ran, took = _run_step(script, 2, {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    assert ran.returncode == 124 and took < 30
    assert "waiting for the lock" in ran.stderr
    assert "preflight-wipp-worker-2 on wipp-worker-2: did not finish within 2 s, so it was ended" in ran.stderr


def test_a_step_within_its_bound_runs_as_before() -> None:
    """The control: the same runner, a script that ends, its output and status unchanged."""
    ran, _ = _run_step("echo out\necho err >&2\nexit 3\n", 30, {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    assert (ran.returncode, ran.stdout, ran.stderr) == (3, "out\n", "err\n")


def test_every_step_the_program_makes_is_bounded_and_says_its_name_and_host() -> None:
    for stack in ("single", "multi"):
        for command in run_program(stack).resources:
            if not command.type.startswith("command:"):
                continue
            runner = RUNNER_PATTERN.fullmatch(str(json_format.MessageToDict(command.raw_inputs)["create"]))
            assert runner, (command.name, command.inputs["create"])
            assert 60 <= int(runner.group(1)) <= 24 * 3600, command.name
            script = host_view(command.inputs)["create"]
            assert script.startswith(f"WIPP_STEP={command.name}\n"), command.name


def test_the_long_steps_have_the_long_bound() -> None:
    deployment = run_program("single", {"version": "2.2.0"}, previous={"images": {}})
    bounds = {
        c.name: int(RUNNER_PATTERN.fullmatch(json_format.MessageToDict(c.raw_inputs)["create"]).group(1))  # type: ignore[union-attr]
        for c in deployment.resources
        if c.type.startswith("command:")
    }
    assert bounds["images-mongodb-wipp-host"] == 24 * 3600
    assert bounds["preflight-wipp-host"] == 3600


def test_data_sized_docker_calls_have_the_data_bound() -> None:
    for script in ("backup.sh", "restore.sh", "image-pull.sh"):
        text = render(script)
        assert "docker run" not in text.replace('docker_within "$DATA_BOUND_S" run', "") or script == "image-pull.sh"
        assert 'docker_within "$DATA_BOUND_S"' in text, script


def test_a_wait_longer_than_an_hour_gets_a_bound_past_its_own_timeout() -> None:
    deployment = run_program("single", {"convergeTimeout": "2h"})
    for name in ("mongodb-running", "web-answers"):
        runner = json_format.MessageToDict(deployment.named(name).raw_inputs)["create"]
        assert int(RUNNER_PATTERN.fullmatch(runner).group(1)) == 2 * 3600 + 600  # type: ignore[union-attr]
