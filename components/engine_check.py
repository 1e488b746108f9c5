"""The first manager's Docker Engine answers, or the program says so first, in its own words.

The Docker provider connects to the first manager's engine as soon as it is configured (at
preview too); when nothing answers, its error ("failed to connect to any docker daemon") names
neither the endpoint nor the key that sets it, and the program's preflight never runs. On a local
first manager the program asks the engine itself before it registers anything
(`scripts/engine-answers.sh`, pulumi-command's `local.run`, bounded) and stops with one paragraph:
which endpoint, which key, what to check. A remote first manager is reached by SSH: there the
preflight, the first step at `up`, says the same from the host.
"""

from __future__ import annotations

import pulumi
import pulumi_command as command

from .scripts import render

ANSWER_WAIT_S = 15  # a local engine that answers does so in well under a second


def refuse_a_silent_engine(endpoint: str, set_by_key: bool, local: bool) -> None:
    """Raises a `pulumi.RunError` when the engine at `endpoint` does not answer; only for a `local`
    first manager (a remote one is checked by its preflight, over SSH)."""
    if not local:
        return
    script = render("engine-answers.sh", ENDPOINT=endpoint, WAIT_S=str(ANSWER_WAIT_S))
    found = command.local.run(command=script, logging=command.local.Logging.STDERR)
    reason = (found.stdout or "").strip()
    if reason:
        raise pulumi.RunError(silent_engine_message(endpoint, set_by_key, reason))


def silent_engine_message(endpoint: str, set_by_key: bool, reason: str) -> str:
    """One paragraph: the endpoint, the key, why, and what to check; nothing was changed."""
    key = (
        "wipp:dockerHost"
        if set_by_key
        else "the default socket for a local first manager; wipp:dockerHost sets another endpoint"
    )
    where = endpoint.removeprefix("unix://")
    return (
        f"the Docker Engine of the first manager does not answer at {endpoint} ({key}): {reason}. "
        f"Check that Docker runs on this machine (systemctl status docker; start it with systemctl start docker), "
        f"that {where} is the engine's endpoint (docker context ls, or the -H/hosts of dockerd), and that this "
        "user may use it. Nothing was changed."
    )
