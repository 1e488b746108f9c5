"""swarm-join.sh when Docker's own 20 s wait for a join runs out: the join goes on in the
background, so the script waits for the node to be active instead of failing (found in CI: a
second manager's join on a busy host answered "Timeout was reached before node joined" and the
next call to the manager met a swarm without a leader). Run with a stand-in `docker` whose
answers a test sets: the states `docker info` reports one after another, and whether the join
itself times out."""

from __future__ import annotations

import subprocess
from pathlib import Path

from harness import run_program

# A stand-in docker: `swarm join` prints JOIN_ANSWER to stderr and exits JOIN_EXIT; each
# `docker info --format {{.Swarm.LocalNodeState}}` answers the next line of $STATES (the last
# one for ever after); the node ID is "node-1"; every call is logged.
DOCKER = """#!/bin/sh
printf '%s\\n' "$*" >> "$CALLS"
case "$*" in
    "swarm join"*) printf '%s\\n' "$JOIN_ANSWER" >&2; exit "$JOIN_EXIT" ;;
    "info --format {{.Swarm.LocalNodeState}}")
        n=$(cat "$COUNT"); echo $((n + 1)) > "$COUNT"
        line=$(sed -n "$((n + 1))p" "$STATES"); [ -n "$line" ] || line=$(tail -n 1 "$STATES")
        echo "$line" ;;
    "info --format {{.Swarm.NodeID}}") echo node-1 ;;
    "info --format {{range .Swarm.RemoteManagers}}{{.Addr}} {{end}}") echo "10.20.0.10:2377 " ;;
    *) echo "unexpected: $*" >&2; exit 2 ;;
esac
"""
TIMEOUT = (
    "Error response from daemon: Timeout was reached before node joined. The attempt to join the swarm will"
    ' continue in the background. Use the "docker info" command to see the current swarm status of your node.'
)


def _join_script(wait_s: int) -> str:
    """The join script as the program renders it for the multi stack's first worker, waiting at most wait_s."""
    text = str(run_program("multi").named("swarm-join-wipp-worker-1").inputs["create"])
    assert "\nJOIN_WAIT_S=180\n" in text  # the program's bound (components/swarm.py)
    return text.replace("\nJOIN_WAIT_S=180\n", f"\nJOIN_WAIT_S={wait_s}\n")


def _run(
    tmp_path: Path, states: list[str], join_exit: int, join_answer: str, wait_s: int = 20
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(DOCKER)
    (bin_dir / "docker").chmod(0o755)
    (tmp_path / "states").write_text("\n".join(states) + "\n")
    (tmp_path / "count").write_text("0\n")
    (tmp_path / "calls").write_text("")
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "CALLS": str(tmp_path / "calls"),
        "STATES": str(tmp_path / "states"),
        "COUNT": str(tmp_path / "count"),
        "JOIN_EXIT": str(join_exit),
        "JOIN_ANSWER": join_answer,
    }
    result = subprocess.run(
        ["sh", "-c", _join_script(wait_s)],
        input="SWMTKN-1-stand-in\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    return result, (tmp_path / "calls").read_text().splitlines()


def test_a_join_that_outlasts_dockers_wait_is_waited_for_until_the_node_is_active(tmp_path: Path) -> None:
    result, calls = _run(tmp_path, ["inactive", "pending", "pending", "active"], 1, TIMEOUT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "node-1"
    assert "Docker's own wait for the join ran out" in result.stderr
    assert "join finished after 2 s more" in result.stderr
    assert sum(call.startswith("swarm join") for call in calls) == 1  # joined once, then only looked


def test_a_join_still_pending_after_the_bound_fails_and_says_where_to_look(tmp_path: Path) -> None:
    result, _ = _run(tmp_path, ["inactive", "pending"], 1, TIMEOUT, wait_s=3)
    assert result.returncode == 1
    assert "swarm state is 'pending' after 3 s more" in result.stderr
    assert result.stdout == ""  # no node ID: the program never records a join that did not happen


def test_a_join_refused_for_another_reason_fails_at_once_with_dockers_answer(tmp_path: Path) -> None:
    refused = "Error response from daemon: invalid join token"
    result, calls = _run(tmp_path, ["inactive"], 1, refused)
    assert result.returncode == 1
    assert f"cannot join the swarm at 10.20.0.10: {refused}" in result.stderr
    assert calls.count("info --format {{.Swarm.LocalNodeState}}") == 1  # no waiting on a refusal
    assert "SWMTKN" not in result.stderr


def test_a_join_an_earlier_run_left_pending_is_waited_for_not_refused(tmp_path: Path) -> None:
    result, calls = _run(tmp_path, ["pending", "pending", "active"], 1, TIMEOUT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "node-1"
    assert not [call for call in calls if call.startswith("swarm join")]
