"""The README's quick start, word for word, in a fresh copy of the repository, through the real engine.

The commands are read from the README itself (the fenced block under "## Quick start"), so this
test breaks when the README and the program drift apart. What differs from a user's machine is
only what CI lacks or must point elsewhere, each set below in `DIFFERENCES` and applied visibly:
- the Pulumi CLI and language host come from the engine build (a user installs Pulumi the usual
  way), and both plugins are already in PULUMI_HOME (a user's `pulumi install` downloads them);
- the stack file's address is the private engine host's (the README tells the user to put
  theirs), the Docker host is the private engine's socket, and services publish in host mode
  with endpoint mode dnsrr (this kernel has no IPVS); the images are stand-ins;
- the passphrase and the "yes" to `up`'s question come from the environment (no terminal here);
- the commands run as if on that host: in its network namespace, with a private copy of /etc;
  that namespace has no way out, so pip (which `pulumi install` runs) reads the packages from a
  wheelhouse that `pip download` fetched from PyPI for the same requirements.txt just before.
State goes where the README says: the file backend `Pulumi.yaml` declares, under this HOME.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from docker_api import wait_until
from engine_hosts import EngineHost
from harness import REPO
from pulumi_cli import PASSPHRASE, PulumiHome
from single_stack import VOLUMES, remove_volumes, sandbox, wait_for_web


def quick_start_commands(readme: str) -> list[str]:
    """The command lines of the first ```bash block under the "## Quick start" heading."""
    section = readme.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block, "no ```bash block under ## Quick start"
    return [line for line in block.group(1).splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_the_quick_start_parser_reads_the_one_line() -> None:
    readme = "intro\n## Quick start\ntext\n```bash\n# a comment\npulumi a && pulumi b\n```\n## Next\n```bash\nno\n```\n"
    assert quick_start_commands(readme) == ["pulumi a && pulumi b"]


def _fresh_copy(destination: Path) -> Path:
    """The repository's tracked files, as a clone has them."""
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True)
    for name in filter(None, tracked.stdout.split("\0")):
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    return destination


def _edit_stack_file_as_told(copy: Path, manager: EngineHost) -> None:
    stack_file = copy / "Pulumi.single.yaml"
    document = yaml.safe_load(stack_file.read_text())
    config = document["config"]
    config["wipp:hosts"][0]["address"] = manager.address  # what the README asks of every user
    # DIFFERENCES: the private engine, and no IPVS on this kernel.
    config.update(
        {"wipp:dockerHost": manager.engine.docker_host, "wipp:publishMode": "host", "wipp:endpointMode": "dnsrr"}
    )
    # DIFFERENCES: the backup tools go into the test's folder, not the machine's /var/backups/wipp.
    config["wipp:backupPlace"] = str(copy.parent / "backups")
    stack_file.write_text(yaml.safe_dump(document, sort_keys=False))


@dataclass(frozen=True)
class UserMachine:
    """Where the quick start runs: a fresh copy of the repository, a user's HOME, the host's sandbox."""

    copy: Path
    home: Path
    env: dict[str, str]
    prefix: list[str]

    def run(self, line: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.prefix, "sh", "-c", line], cwd=self.copy, env=self.env, capture_output=True, text=True, timeout=1200
        )


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """requirements.txt (and pip's own build tools) downloaded from PyPI, outside the test host's namespace."""
    folder = tmp_path_factory.mktemp("wheelhouse")
    download = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--dest"]
    result = subprocess.run(
        [*download, str(folder), "-r", str(REPO / "requirements.txt"), "pip", "setuptools", "wheel"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return folder


@pytest.fixture
def user_machine(
    pulumi_home: PulumiHome, manager: EngineHost, images: list[str], wheelhouse: Path, tmp_path: Path
) -> Iterator[UserMachine]:
    copy = _fresh_copy(tmp_path / "wipp")
    _edit_stack_file_as_told(copy, manager)
    home = tmp_path / "home"
    # DIFFERENCES: the plugins are already installed; a user's `pulumi install` downloads them.
    shutil.copytree(pulumi_home.home / "plugins", home / ".pulumi" / "plugins")
    env = pulumi_home.env()  # PATH with the engine build; no PULUMI_BACKEND_URL: Pulumi.yaml's backend decides
    env.update(
        HOME=str(home),
        PULUMI_HOME=str(home / ".pulumi"),
        PULUMI_CONFIG_PASSPHRASE=PASSPHRASE,  # DIFFERENCES: typed at the prompt by a user
        PULUMI_SKIP_CONFIRMATIONS="true",  # DIFFERENCES: a user answers "yes" to up's question
        PIP_NO_INDEX="1",  # DIFFERENCES: no way out of the namespace; the same packages, from PyPI before
        PIP_FIND_LINKS=str(wheelhouse),
    )
    prefix = sandbox(manager, tmp_path)
    # DIFFERENCES: the user's home is a temp folder. `file://~` is the account's home in the user
    # database, not $HOME, so it is set in the sandbox's own /etc/passwd too.
    passwd = tmp_path / "etc" / "passwd"
    passwd.write_text(re.sub(r"^(root:[^:]*:0:0:[^:]*:)[^:]*:", rf"\g<1>{home}:", passwd.read_text(), flags=re.M))
    machine = UserMachine(copy, home, env, prefix)
    yield machine
    machine.run("pulumi destroy --stack single")
    remove_volumes(manager, VOLUMES)


def test_the_readme_quick_start_deploys_wipp(
    user_machine: UserMachine, manager: EngineHost, report_line: Callable[[str], None]
) -> None:
    commands = quick_start_commands((user_machine.copy / "README.md").read_text())
    assert commands == ["pulumi install && pulumi stack init single && pulumi up --stack single"]
    for line in commands:
        result = user_machine.run(line)
        assert result.returncode == 0, f"{line}\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    assert (user_machine.copy / "venv" / "bin" / "python").exists()  # `pulumi install` made Pulumi.yaml's venv
    assert (user_machine.home / ".pulumi" / "stacks" / "wipp" / "single.json").exists()  # where the README says
    report = wait_for_web(manager, "version=2.2.0")
    assert "reached=master:9618 mongodb:27017" in report
    wait_until(lambda: manager.engine.running_tasks("exec") == 1, 60, 0.2, "exec running")
    report_line(f"quick start, word for word: `{commands[0]}` -> WIPP answered at http://{manager.address}:18080")
