"""`.ci/engine`, the first step of `.ci/run`: the Pulumi engine the tests drive, found on any machine.

Each test runs the script in a copy of the repository (`git ls-files`) with no `../shared` beside
it, with a PATH of its own (a folder of the few tools the script uses, plus the test's engine
folder) and a HOME of its own, so nothing the machine has installed is seen. The prebuilt engine is
the one CI runs the suite with (WIPP_PULUMI_BIN), copied; the wrong versions and the partial
installs are stand-ins that answer the version questions as the real binaries do.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from harness import REPO
from prerequisites import require_root
from pulumi_cli import PulumiHome, engine_bin, pins

# What the script runs besides bash's builtins, and each binary it puts in its folder.
TOOLS = (
    "bash",
    "python3",
    "dirname",
    "sed",
    "mktemp",
    "rm",
    "timeout",
    "readlink",
    "getent",
    "cut",
    "mkdir",
    "ln",
    "date",
)
BINARIES = (
    "pulumi",
    "pulumi-language-python",
    "pulumi-language-python-exec",
    "pulumi-resource-command",
    "pulumi-resource-docker",
)
INSTALL_CLI = "curl -fsSL https://get.pulumi.com | sh -s -- --version {}"


PINS = pins()
CLI, COMMAND, DOCKER = PINS["pulumi"], PINS["pulumi-command"], PINS["pulumi-docker"]


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The repository's files (as a clone has them) in a temp folder, with no `../shared` beside it."""
    listed = subprocess.run(
        ["git", "-c", "safe.directory=*", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    copy = tmp_path / "elsewhere" / "wipp"
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():  # a file deleted in the work tree but not yet in git's index is skipped
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    assert (copy / ".ci" / "engine").is_file()
    assert not (copy.parent / "shared").exists()
    return copy


@pytest.fixture
def tools(tmp_path: Path) -> Path:
    """A folder with links to the tools the script uses, and nothing else: no `pulumi`, no `go`."""
    folder = tmp_path / "tools"
    folder.mkdir()
    for name in TOOLS:
        # python3: the interpreter itself (a PATH's python3 may be a shim that needs more tools)
        found = os.path.realpath(sys.executable) if name == "python3" else shutil.which(name)
        assert found, f"{name} is not on PATH"
        (folder / name).symlink_to(found)
    return folder


def stand_in(folder: Path, name: str, version: str) -> Path:
    """An executable `name` that says it is `version` as the real one does: the CLI to `pulumi version`
    (`v3.259.0`), the language host to `-version` (`v3.259.0`); a resource plugin knows no such flag,
    and the CLI asked `pulumi package get-schema PLUGIN` prints the plugin's schema (here the stand-in
    plugin's answer to `schema`), with its version."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if name == "pulumi":
        answers = f'version) echo v{version}; exit 0 ;;\n    package) [ "$2" = get-schema ] && exec "$3" schema ;;'
    elif name.startswith("pulumi-resource-"):
        schema = f'{{"name": "{name.removeprefix("pulumi-resource-")}", "version": "{version}"}}'
        answers = f"schema) echo '{schema}'; exit 0 ;;"
    else:
        answers = f"-version) echo v{version}; exit 0 ;;"
    path.write_text(f'#!/bin/sh\ncase "$1" in\n    {answers}\nesac\necho "asked $*" >&2\nexit 2\n')
    path.chmod(0o755)
    return path


def stand_in_engine(folder: Path, cli: str = CLI, command: str = COMMAND, docker: str = DOCKER) -> Path:
    for name, version in (("pulumi", cli), ("pulumi-language-python", cli)):
        stand_in(folder, name, version)
    exec_script = folder / "pulumi-language-python-exec"
    exec_script.write_text("#!/usr/bin/env python3\n")
    exec_script.chmod(0o755)
    stand_in(folder, "pulumi-resource-command", command)
    stand_in(folder, "pulumi-resource-docker", docker)
    return folder


def find_engine(checkout: Path, path: list[Path], out: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`bash .ci/engine OUT` in the copy, with only `path` on PATH and a HOME of its own."""
    home = out.parent / "home"
    home.mkdir(exist_ok=True)
    environment = {"PATH": ":".join(str(p) for p in path), "HOME": str(home), **env}
    return subprocess.run(
        [shutil.which("bash") or "/bin/bash", str(checkout / ".ci" / "engine"), str(out)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def links(out: Path) -> dict[str, Path]:
    return {p.name: p.resolve() for p in sorted(out.iterdir())}


def test_a_prebuilt_engine_on_path_is_used_and_named(checkout: Path, tools: Path, tmp_path: Path) -> None:
    """The engine CI built (WIPP_PULUMI_BIN), copied into a folder on PATH as an installed one is:
    the script links that folder's binaries, says so, and the tests' PulumiHome installs its plugins."""
    prebuilt = tmp_path / "prebuilt"
    prebuilt.mkdir()
    for name in BINARIES:
        shutil.copy2(engine_bin() / name, prebuilt / name)
    out = tmp_path / "engine"

    found = find_engine(checkout, [prebuilt, tools], out)

    assert found.returncode == 0, found.stderr
    assert found.stdout == f"{out}\n"
    assert f"[ci] Pulumi engine: installed CLI {CLI} at {prebuilt}/pulumi " in found.stderr
    assert f"command {COMMAND} at {prebuilt}/pulumi-resource-command" in found.stderr
    assert f"docker {DOCKER} at {prebuilt}/pulumi-resource-docker" in found.stderr
    assert "built from" not in found.stderr
    assert links(out) == {name: prebuilt / name for name in BINARIES}
    # What the engine tests do with WIPP_PULUMI_BIN works on this folder of links.
    home = PulumiHome.create(out, tmp_path / "pulumi-home")
    listed = home.run(["plugin", "ls"], cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert re.search(rf"^command\s+resource\s+{re.escape(COMMAND)}\s", listed.stdout, re.MULTILINE), listed.stdout
    assert re.search(rf"^docker\s+resource\s+{re.escape(DOCKER)}\s", listed.stdout, re.MULTILINE), listed.stdout
    version = home.run(["version"], cwd=tmp_path)
    assert version.stdout.strip() == f"v{CLI}", version.stdout + version.stderr


def test_plugins_installed_by_pulumi_plugin_install_are_used(checkout: Path, tools: Path, tmp_path: Path) -> None:
    """The CLI on PATH with its language host beside it; the plugins where `pulumi plugin install
    resource NAME VERSION` puts them ($PULUMI_HOME/plugins/resource-NAME-vVERSION/), not on PATH.
    Another version's folder beside them and a folder the install has not finished are passed over."""
    cli = stand_in_engine(tmp_path / "cli")
    for name in ("pulumi-resource-command", "pulumi-resource-docker"):
        (cli / name).unlink()
    pulumi_home = tmp_path / "pulumi-home"
    plugins = pulumi_home / "plugins"
    command = stand_in(plugins / f"resource-command-v{COMMAND}", "pulumi-resource-command", COMMAND)
    docker = stand_in(plugins / f"resource-docker-v{DOCKER}", "pulumi-resource-docker", DOCKER)
    stand_in(plugins / "resource-docker-v4.0.0", "pulumi-resource-docker", "4.0.0")
    out = tmp_path / "engine"

    found = find_engine(checkout, [cli, tools], out, PULUMI_HOME=str(pulumi_home))

    assert found.returncode == 0, found.stderr
    assert f"command {COMMAND} at {command} and docker {DOCKER} at {docker}" in found.stderr
    assert links(out)["pulumi-resource-docker"] == docker
    assert links(out)["pulumi"] == cli / "pulumi"

    (plugins / f"resource-docker-v{DOCKER}.partial").touch()  # `pulumi plugin install` still at it
    unfinished = find_engine(checkout, [cli, tools], tmp_path / "again", PULUMI_HOME=str(pulumi_home))

    assert unfinished.returncode != 0
    assert f"pulumi-resource-docker {DOCKER}: pulumi plugin install resource docker {DOCKER}" in unfinished.stderr


@pytest.mark.parametrize(
    ("wrong", "says"),
    [
        ({"cli": "3.258.0"}, f"pulumi at {{cli}}/pulumi is 3.258.0; {CLI} is needed"),
        ({"docker": "5.0.0"}, f"pulumi-resource-docker at {{cli}}/pulumi-resource-docker is 5.0.0; {DOCKER} is needed"),
    ],
    ids=["cli", "docker-plugin"],
)
def test_a_wrong_version_on_path_is_refused_naming_both(
    checkout: Path, tools: Path, tmp_path: Path, wrong: dict[str, str], says: str
) -> None:
    cli = stand_in_engine(tmp_path / "installed", **wrong)
    out = tmp_path / "engine"

    found = find_engine(checkout, [cli, tools], out)

    assert found.returncode != 0
    assert found.stdout == ""
    assert says.format(cli=cli) in found.stderr
    assert INSTALL_CLI.format(CLI) in found.stderr
    assert not out.exists()


def test_the_versions_are_the_ones_requirements_txt_pins(checkout: Path, tools: Path, tmp_path: Path) -> None:
    """A pin changed in requirements.txt is what the script then asks for: the versions are read there."""
    requirements = checkout / "requirements.txt"
    requirements.write_text(requirements.read_text().replace(f"pulumi-docker=={DOCKER}", "pulumi-docker==5.2.0"))
    cli = stand_in_engine(tmp_path / "installed")

    found = find_engine(checkout, [cli, tools], tmp_path / "engine")

    assert found.returncode != 0
    assert f"pulumi-resource-docker at {cli}/pulumi-resource-docker is {DOCKER}; 5.2.0 is needed" in found.stderr


def test_with_nothing_installed_and_no_sources_it_names_each_missing_piece_and_its_install_command(
    checkout: Path, tools: Path, tmp_path: Path
) -> None:
    out = tmp_path / "engine"

    found = find_engine(checkout, [tools], out)

    assert found.returncode != 0
    assert found.stdout == ""
    missing = [line for line in found.stderr.splitlines() if line.startswith("[ci]   ")]
    assert missing == [
        f"[ci]   pulumi CLI {CLI} with its language host: {INSTALL_CLI.format(CLI)}",
        f"[ci]   pulumi-resource-command {COMMAND}: pulumi plugin install resource command {COMMAND}",
        f"[ci]   pulumi-resource-docker {DOCKER}: pulumi plugin install resource docker {DOCKER}",
    ], found.stderr
    assert f"or put the engine sources at {checkout.parent}/shared/engine-src" in found.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    ("removed", "says"),
    [
        ("pulumi-language-python", "pulumi-language-python {CLI}, which ships with the CLI (none beside {cli}/pulumi)"),
        ("pulumi-language-python-exec", "pulumi-language-python-exec, which ships with the CLI (none at {cli}/"),
    ],
    ids=["host", "exec-shim"],
)
def test_a_cli_without_its_language_host_is_named_missing(
    checkout: Path, tools: Path, tmp_path: Path, removed: str, says: str
) -> None:
    """The host is looked for beside the CLI, and its exec shim beside the host: the only place the host
    looks for it."""
    cli = stand_in_engine(tmp_path / "installed")
    (cli / removed).unlink()

    found = find_engine(checkout, [cli, tools], tmp_path / "engine")

    assert found.returncode != 0
    assert f"[ci]   {says.format(CLI=CLI, cli=cli)}" in found.stderr, found.stderr
    assert INSTALL_CLI.format(CLI) in found.stderr


def fake_sources(folder: Path, versions: dict[str, str]) -> Path:
    """Engine sources whose build.sh puts stand-ins at `versions` in OUT_DIR (a real build takes 20 min)."""
    made = folder / "made"
    for name, version in versions.items():
        stand_in(made, name, version)
    (folder / "build.sh").write_text(
        'set -e\nmkdir -p "$1"\necho "[engine] built" >&2\n'
        'for made in "$(dirname "$0")"/made/*; do ln "$made" "$1/"; done\n'  # hard links: files, as build.sh's
    )
    return folder


def build_versions(cli: str = CLI, docker: str = DOCKER) -> dict[str, str]:
    return {
        "pulumi": cli,
        "pulumi-language-python": cli,
        "pulumi-language-python-exec": cli,
        "pulumi-resource-command": COMMAND,
        "pulumi-resource-docker": docker,
    }


def test_without_an_installed_engine_it_builds_from_the_sources_and_says_so(
    checkout: Path, tools: Path, tmp_path: Path
) -> None:
    """Only the CLI installed (no plugins): the engine is built from WIPP_ENGINE_SRC instead."""
    sources = fake_sources(tmp_path / "engine-src", build_versions())
    go = tmp_path / "go"
    stand_in(go, "go", "1.25.0")
    cli = stand_in_engine(tmp_path / "installed")
    for name in ("pulumi-resource-command", "pulumi-resource-docker"):
        (cli / name).unlink()
    out = tmp_path / "engine"

    found = find_engine(checkout, [cli, go, tools], out, WIPP_ENGINE_SRC=str(sources))

    assert found.returncode == 0, found.stderr
    assert found.stdout == f"{out}\n"
    assert (
        f"[ci] Pulumi engine: not installed (no pulumi-resource-command {COMMAND}, pulumi-resource-docker {DOCKER});"
        f" building it from {sources}\n"
    ) in found.stderr
    assert f"[ci] Pulumi engine: built from {sources} in " in found.stderr
    assert "[engine] built" in found.stderr
    assert set(links(out)) == set(BINARIES)
    assert all(not (out / name).is_symlink() for name in BINARIES)


def test_a_build_of_other_versions_is_refused(checkout: Path, tools: Path, tmp_path: Path) -> None:
    sources = fake_sources(tmp_path / "engine-src", build_versions(docker="5.0.0"))
    go = tmp_path / "go"
    stand_in(go, "go", "1.25.0")

    found = find_engine(checkout, [go, tools], tmp_path / "engine", WIPP_ENGINE_SRC=str(sources))

    assert found.returncode != 0
    assert found.stdout == ""
    assert f"{sources}/build.sh built other versions than requirements.txt pins" in found.stderr
    assert f"pulumi-resource-docker at {tmp_path}/engine/pulumi-resource-docker is 5.0.0; {DOCKER} is needed" in (
        found.stderr
    )


def test_ci_run_with_no_engine_stops_at_once_naming_what_is_missing(
    checkout: Path, tools: Path, tmp_path: Path
) -> None:
    """`.ci/run` itself: before its venv, its checks or its private engines, it stops on the script's answer."""
    require_root(".ci/run")
    for name in ("id",):  # what .ci/run runs before the engine, besides the script's tools
        found = shutil.which(name)
        assert found, f"{name} is not on PATH"
        (tools / name).symlink_to(found)

    run = subprocess.run(
        [str(tools / "bash"), str(checkout / ".ci" / "run"), "tests/test_config.py"],
        env={"PATH": str(tools), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert run.returncode != 0
    assert f"pulumi-resource-docker {DOCKER}: pulumi plugin install resource docker {DOCKER}" in run.stderr
    assert INSTALL_CLI.format(CLI) in run.stderr
    assert not (checkout / ".ci-venv").exists()
    assert "test worlds" not in run.stdout


IN_USE = '''"""Written into a copy of the repository by tests/test_ci_engine.py: the engine the run gives the tests."""

from __future__ import annotations

import os
from pathlib import Path

from pulumi_cli import PulumiHome, engine_bin


def test_the_engine_in_use_is_the_one_on_path(tmp_path: Path) -> None:
    expected = Path(os.environ["WIPP_TEST_EXPECTED_ENGINE"])
    assert (engine_bin() / "pulumi").resolve() == expected / "pulumi"
    assert (engine_bin() / "pulumi-resource-docker").resolve() == expected / "pulumi-resource-docker"
    home = PulumiHome.create(engine_bin(), tmp_path / "home")
    assert home.run(["plugin", "ls"], cwd=tmp_path).returncode == 0
'''


def test_ci_run_with_a_prebuilt_engine_on_path_and_no_shared_runs_the_tests_with_it(
    checkout: Path, tmp_path: Path
) -> None:
    """`.ci/run` for real in the copy (a venv, the checks, one test world), CI's engine copied into a
    folder on PATH, a test selection of one module that checks which engine it was given."""
    require_root(".ci/run")
    prebuilt = tmp_path / "prebuilt"
    prebuilt.mkdir()
    for name in BINARIES:
        shutil.copy2(engine_bin() / name, prebuilt / name)
    (checkout / "tests" / "test_the_engine_in_use.py").write_text(IN_USE)
    environment = {
        "PATH": f"{prebuilt}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(tmp_path / "home"),
        "WIPP_TEST_WORLDS": "1",
        "WIPP_TEST_EXPECTED_ENGINE": str(prebuilt),
        "PIP_CACHE_DIR": os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip")),
    }

    run = subprocess.run(
        ["bash", str(checkout / ".ci" / "run"), "tests/test_the_engine_in_use.py"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=1200,
    )

    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    assert f"[ci] Pulumi engine: installed CLI {CLI} at {prebuilt}/pulumi " in run.stderr, output[-6000:]
    assert "built from" not in output
    assert re.search(r"^=+ 1 passed", run.stdout, re.MULTILINE), run.stdout[-3000:]
