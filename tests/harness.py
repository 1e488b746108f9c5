"""Runs `__main__.py` under Pulumi's mocks and records what it registers.

The config is built as the Pulumi CLI builds it: the defaults declared in
`Pulumi.yaml`, then the stack file, then the test's overrides.
"""

from __future__ import annotations

import base64
import hashlib
import json
import runpy
import shlex
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from google.protobuf import json_format
from pulumi.runtime import mocks, rpc
from pulumi.runtime.settings import get_root_resource

from components.config import machine as this_machine
from components.host_command import RUNNER_PATTERN
from components.scripts import COMMON

REPO = Path(__file__).resolve().parents[1]
STEP_HEADER = ("WIPP_STEP", "WIPP_HOST", "WIPP_BOUND_S")  # components.host_command.step_header
FAKE_SSH_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nfake-test-key\n-----END OPENSSH PRIVATE KEY-----"
DELETE = object()  # an override value that removes the key
SECRET_KEYS = ("wipp:sshPrivateKey", "wipp:registryPassword")  # set with `config set --secret`, as the README says
# Pulumi.multi.yaml ships documentation addresses (192.0.2.0/24), which preview refuses on purpose;
# the tests run the multi stack as an administrator would, with the hosts' real addresses set.
MULTI_REAL_ADDRESSES = {"192.0.2.10": "10.20.0.10", "192.0.2.11": "10.20.0.11", "192.0.2.12": "10.20.0.12",
                        "192.0.2.0/24": "10.20.0.0/24"}  # fmt: skip
# What the mocked preflight prints on stdout, in the form `scripts/preflight.sh` prints it (one JSON line).
# What the mocked shared-folders.sh `create` prints: the stamp it wrote (the stack's tag, a token).
SHARED_STAMP = "wipp:multi:0123456789abcdef0123456789abcdef"
PREFLIGHT_FINDINGS = {
    "docker": "20.10.24",
    "swarm": "none",
    "memoryMb": 32000,
    "diskFreeGb": 200,
    "pullsNeedMb": 0,
    "warnings": "",
}


def mock_digest(image: str) -> str:
    """The digest the mocked image-pull.sh reports for `image` (a sha256 of its name, as a registry's would look)."""
    return "sha256:" + hashlib.sha256(image.encode()).hexdigest()


def fake_host_key(address: str) -> str:
    """A well-formed ed25519 public host key, different for each address (never a real host's)."""
    key_type = b"ssh-ed25519"
    body = hashlib.sha256(address.encode()).digest()
    blob = len(key_type).to_bytes(4, "big") + key_type + len(body).to_bytes(4, "big") + body
    return f"ssh-ed25519 {base64.b64encode(blob).decode()}"


def _with_host_keys(hosts: Any) -> Any:
    """Hosts with a hostKey where an administrator would have put one (every SSH host)."""
    if not isinstance(hosts, list):
        return hosts
    return [
        {**h, "hostKey": fake_host_key(str(h.get("address")))}
        if isinstance(h, dict) and not h.get("local") and "hostKey" not in h
        else h
        for h in hosts
    ]


def stack_config(stack: str, overrides: dict[str, Any] | None = None, fill_host_keys: bool = True) -> dict[str, Any]:
    """`wipp:*` keys as the CLI would pass them for `stack`, with overrides applied.

    With `fill_host_keys`, every SSH host without a hostKey gets a fake one, as the README
    has an administrator add them with ssh-keyscan; config tests turn it off.
    """
    project = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    config: dict[str, Any] = {
        f"wipp:{key}": schema["default"] for key, schema in project["config"].items() if "default" in schema
    }
    config.update(yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text())["config"])
    if stack == "multi":
        config["wipp:sshPrivateKey"] = FAKE_SSH_KEY
        config["wipp:hosts"] = [{**h, "address": MULTI_REAL_ADDRESSES[h["address"]]} for h in config["wipp:hosts"]]
        config["wipp:allowedSources"] = [MULTI_REAL_ADDRESSES[s] for s in config["wipp:allowedSources"]]
    for key, value in (overrides or {}).items():
        if value is DELETE:
            config.pop(f"wipp:{key}", None)
        else:
            config[f"wipp:{key}"] = value
    if fill_host_keys and "wipp:hosts" in config:
        config["wipp:hosts"] = _with_host_keys(config["wipp:hosts"])
    return config


@dataclass(frozen=True)
class FakeMachine:
    """What the config checks read from the machine `pulumi` runs on (`components/config/machine.py`),
    as a test sets it: the stack file as written (by default the test's config as YAML writes it,
    every text quoted where YAML would read a number), the host names that do not resolve (every
    other resolves to `RESOLVED`), and this machine's addresses (by default every address is)."""

    stack_file: str | None = None
    unresolved: frozenset[str] = frozenset()
    local_addresses: frozenset[str] | None = None

    RESOLVED = "10.99.0.1"

    def install(self, config: dict[str, Any]) -> dict[str, Any]:
        """Puts this machine's answers in place of `machine`'s functions; returns those it replaced."""
        names = ("stack_file_text", "ipv4_addresses", "is_this_machines_address")
        replaced = {name: getattr(this_machine, name) for name in names}
        written = self.stack_file if self.stack_file is not None else yaml.safe_dump({"config": config})
        this_machine.stack_file_text = lambda: written
        this_machine.ipv4_addresses = lambda name: [] if name in self.unresolved else [self.RESOLVED]
        this_machine.is_this_machines_address = lambda address: (
            self.local_addresses is None or address in self.local_addresses
        )
        return replaced


def _as_config_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)  # booleans -> true/false, numbers, objects and lists as JSON


@dataclass
class Registered:
    """One resource as the engine saw it: inputs and options."""

    type: str
    name: str
    urn: str
    inputs: dict[str, Any]  # a host command's as the host sees them (`host_view`): create is the script
    dependencies: list[str]
    parent: str
    provider: str
    retain_on_delete: bool
    delete_before_replace: bool
    additional_secret_outputs: list[str]
    replace_on_changes: list[str]
    ignore_changes: list[str]
    raw_inputs: Any  # the wire form, where secrets are still marked
    mock_id: str = ""  # what the mocks answered: the engine suite maps these to real values
    mock_outputs: dict[str, Any] = field(default_factory=dict)

    def secret_inputs(self) -> set[str]:
        """Top-level input names that travel to the engine marked secret."""
        wire = json_format.MessageToDict(self.raw_inputs)
        return {key for key, value in wire.items() if _is_secret(value)}


@dataclass
class Deployment:
    resources: list[Registered] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)
    invokes: list[Any] = field(default_factory=list)  # every invoke the program made (token, args)
    sigint_handler: Any = None  # what the program left as SIGINT's handler

    def of_type(self, type_: str) -> list[Registered]:
        return [r for r in self.resources if r.type == type_]

    def named(self, name: str) -> Registered:
        matches = [r for r in self.resources if r.name == name]
        assert len(matches) == 1, f"expected one resource named {name}, got {[r.name for r in self.resources]}"
        return matches[0]

    def by_urn(self, urn: str) -> Registered:
        return next(r for r in self.resources if r.urn == urn)


def host_view(inputs: dict[str, Any]) -> dict[str, Any]:
    """A host command's inputs as the host sees them: `create` is the script the fixed runner reads off
    stdin (`components.host_command.RUNNER`), `stdin` what follows it (the secret, if any)."""
    runner = RUNNER_PATTERN.fullmatch(str(inputs.get("create", "")))
    if runner is None:
        return inputs
    count, data = int(runner.group(2)), str(inputs.get("stdin", "")).encode()
    view = {**inputs, "create": data[:count].decode(), "stdin": data[count:].decode()}
    if not view["stdin"]:
        del view["stdin"]
    return view


class WippMocks(pulumi.runtime.Mocks):
    """Plays the providers: commands print what the real scripts print.

    `refusals`: what stack-ownership.sh prints at preview (`local.run`); `engine_silence`: what
    engine-answers.sh prints (why the engine does not answer; empty: it answers); `previous`: the
    stack's outputs from its last update, as the engine's readStackOutputs gives them.
    """

    def __init__(
        self,
        refusals: str = "",
        previous: dict[str, Any] | None = None,
        engine_silence: str = "",
        swarm_state: str = "",
    ) -> None:
        self.refusals = refusals
        self.engine_silence = engine_silence
        self.swarm_state = swarm_state  # what swarm-state.sh prints at preview ("active <id>", "inactive ")
        self.previous = previous or {}
        self.invokes: list[pulumi.runtime.MockCallArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        state = dict(args.inputs)
        if args.typ.startswith("command:"):
            create = host_view(_plain(dict(args.inputs))).get("create", "")
            if "docker swarm join-token" in create:
                role = "worker" if "ROLE='worker'" in create or "ROLE=worker" in create else "manager"
                state["stdout"] = f"SWMTKN-1-test-{role}-token"
            elif "docker swarm init" in create or "docker swarm join " in create:
                state["stdout"] = f"node-{args.name}"
            elif "PINNED" in script_variables(create):  # image-pull.sh: the first manager prints the pinned image
                pull = script_variables(create)
                state["stdout"] = "" if pull["PINNED"] else f"{pull['IMAGE']}@{mock_digest(pull['IMAGE'])}\n"
            elif "MIN_DISK_GB" in script_variables(create):
                state["stdout"] = json.dumps(PREFLIGHT_FINDINGS) + "\n"
            elif script_variables(create).get("MODE") == "create" and "FOLDERS" in script_variables(create):
                state["stdout"] = SHARED_STAMP + "\n"  # what shared-folders.sh prints: its stamp
            else:
                state["stdout"] = ""
        if args.typ == "docker:index/network:Network":
            return f"net-{args.inputs['name']}", state
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        self.invokes.append(args)
        if args.token == "pulumi:pulumi:readStackOutputs":
            return {"name": args.args["name"], "outputs": self.previous, "secretOutputNames": []}, []
        if args.token == "command:local:run":
            script = args.args.get("command", "")
            if "stack-ownership" in script:
                return {"stdout": self.refusals}, []
            if "engine-answers" in script:
                return {"stdout": self.engine_silence}, []
            return {"stdout": self.swarm_state if "{{.Swarm.LocalNodeState}} {{.Swarm.NodeID}}" in script else ""}, []
        return {}, []


def _is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig


def _plain(value: Any) -> Any:
    """The value with secret wrappers removed (tests check secrecy on the wire form)."""
    if isinstance(value, dict):
        if _is_secret(value):
            return _plain(value["value"])
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class RecordingMonitor(mocks.MockMonitor):
    """A MockMonitor that also keeps each registration's dependencies and options."""

    def __init__(self, mocks_: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks_)
        self.deployment = Deployment()

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]  # pulumi: unannotated
        if request.type != "pulumi:pulumi:Stack":
            self.deployment.resources.append(
                Registered(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    inputs=host_view(_plain(rpc.deserialize_properties(request.object, keep_unknowns=True))),
                    dependencies=list(request.dependencies),
                    parent=request.parent,
                    provider=request.provider,
                    retain_on_delete=request.retainOnDelete,
                    delete_before_replace=request.deleteBeforeReplace,
                    additional_secret_outputs=list(request.additionalSecretOutputs),
                    replace_on_changes=list(request.replaceOnChanges),
                    ignore_changes=list(request.ignoreChanges),
                    raw_inputs=request.object,
                    mock_id=response.id,
                    mock_outputs=self.resources[response.urn].state if response.urn in self.resources else {},
                )
            )
        return response


def run_program(
    stack: str,
    overrides: dict[str, Any] | None = None,
    preview: bool = False,
    record_into: Deployment | None = None,
    fill_host_keys: bool = True,
    refusals: str = "",
    previous: dict[str, Any] | None = None,
    secret_keys: tuple[str, ...] = SECRET_KEYS,
    engine_silence: str = "",
    machine: FakeMachine = FakeMachine(),
    swarm_state: str = "",
) -> Deployment:
    """Runs the program for `stack` under mocks; raises what the program raises.

    `record_into` receives the registrations even when the program raises; `secret_keys` are
    the keys the CLI passes as secrets; `machine` is what the program reads from the machine it runs on.
    """
    config = stack_config(stack, overrides, fill_host_keys)
    replaced = machine.install(config)
    try:
        played = WippMocks(refusals, previous, engine_silence, swarm_state)
        return _run_under_mocks(stack, config, preview, record_into, played, secret_keys)
    finally:
        for name, function in replaced.items():
            setattr(this_machine, name, function)


def _run_under_mocks(
    stack: str,
    config: dict[str, Any],
    preview: bool,
    record_into: Deployment | None,
    played: WippMocks,
    secret_keys: tuple[str, ...],
) -> Deployment:
    monitor = RecordingMonitor(played)
    if record_into is not None:
        monitor.deployment = record_into
    monitor.deployment.invokes = played.invokes
    pulumi.runtime.set_mocks(played, project="wipp", stack=stack, preview=preview, monitor=monitor)
    pulumi.runtime.set_all_config(
        {key: _as_config_string(value) for key, value in config.items()},
        [key for key in config if key in secret_keys],
    )
    deployment = monitor.deployment

    def program() -> pulumi.Output[Any]:
        # The program sets its own SIGINT handler (components/cancel.py); pytest's is put back after it.
        before = signal.getsignal(signal.SIGINT)
        try:
            runpy.run_path(str(REPO / "__main__.py"), run_name="__main__")
        finally:
            deployment.sigint_handler = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, before)
        exported = get_root_resource().outputs  # type: ignore[union-attr]

        async def collect() -> None:
            for key, value in exported.items():
                output = pulumi.Output.from_input(value)
                if await output.is_secret():
                    deployment.secret_outputs.add(key)
                deployment.outputs[key] = await output.future()

        return pulumi.Output.from_input(collect())

    mocks.test(program)()  # type: ignore[no-untyped-call]  # pulumi: unannotated
    return deployment


def script_variables(script: str) -> dict[str, str]:
    """The input variables a rendered host script sets ahead of its text (`components.scripts.render`),
    without the step's header that `host_command` puts first (WIPP_STEP, WIPP_HOST, WIPP_BOUND_S)."""
    header = script[: script.index(COMMON.read_text())]
    words = [word for word in shlex.split(header) if word != "export"]
    assert all("=" in word for word in words), f"not a variable header: {header!r}"
    return {name: value for name, value in (word.split("=", 1) for word in words) if name not in STEP_HEADER}


def ssh_options(provider: Registered) -> list[str]:
    """The Docker provider's `sshOpts` (provider inputs reach the engine JSON-encoded)."""
    raw = provider.inputs.get("sshOpts", "[]")
    return json.loads(raw) if isinstance(raw, str) else list(raw)


def assert_mentions(message: str, expected: list[str]) -> None:
    """Every expected piece of text is in the message (an error's text, a script's stderr)."""
    missing = [text for text in expected if text not in message]
    assert not missing, f"{missing} not in: {message}"
