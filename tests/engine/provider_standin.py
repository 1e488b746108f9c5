"""Applies what the program registered under mocks to a real Docker Engine.

This stands in for the Pulumi engine with the pulumi-docker and pulumi-command
providers, which cannot be installed on the CI machines. It is not `pulumi up`,
and it is kept small on purpose:

- resources are applied in the dependency order the program registered;
- `command:local:Command` runs its `create` text with /bin/sh (stdin as given),
  and its `delete` text on destroy;
- docker Network, Volume and Service inputs become Engine API calls; a second
  `up` updates services in place and leaves unchanged resources alone, as a
  stack's state would;
- a service waits as the upstream provider that pulumi-docker bridges
  (kreuzwerker/docker, `resource_docker_service_funcs.go`) waits: the
  converge `delay` before the first check, then checks backing off from 5 s to
  10 s until the converge `timeout`; an update waits 7 s before its first check;
  both end with a 2 s read-back;
- values the mocks made up (resource ids, command stdout) are replaced by the
  real ones once known, as the engine resolves outputs;
- a service is deleted without waiting (as upstream does without a stop grace
  period); a network or volume is deleted once no container uses it.

It does not diff, refresh, plan replacements or open SSH sessions.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

from docker_api import Engine, EngineError, run_script
from harness import Deployment, Registered

COMPONENT_PREFIX = "wipp:"
FIRST_CHECK_AFTER_UPDATE = 7.0  # the upstream provider's fixed Delay for updates
MIN_CHECK_INTERVAL, MAX_CHECK_INTERVAL = 5.0, 10.0  # its MinTimeout and backoff cap
READ_BACK = 2.0  # its read after create/update


def seconds(duration: str) -> float:
    """'500ms', '2s', '20m', '1h' -> seconds."""
    match = re.fullmatch(r"([0-9]+)(ms|s|m|h)", duration)
    if not match:
        raise ValueError(f"not a duration: {duration}")
    number, unit = int(match.group(1)), match.group(2)
    return number * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]


@dataclass
class ServiceTiming:
    created_at: float  # just before the create or update call
    running_at: float  # when the wait saw it converged


@dataclass
class StandInState:
    """What a stack's state would hold between `up`s: inputs and real ids by URN."""

    inputs: dict[str, Any] = field(default_factory=dict)
    real_ids: dict[str, str] = field(default_factory=dict)
    registered: dict[str, Registered] = field(default_factory=dict)


class ProviderStandIn:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.state = StandInState()
        self.known: dict[str, str] = {}  # mock value -> real value
        self.timings: dict[str, ServiceTiming] = {}
        self.command_output: dict[str, subprocess.CompletedProcess[str]] = {}

    # -- ordering -------------------------------------------------------------------
    @staticmethod
    def ordered(resources: list[Registered]) -> list[Registered]:
        """Dependencies first; otherwise in registration order."""
        by_urn = {r.urn: r for r in resources}
        done: set[str] = set()
        order: list[Registered] = []
        while len(order) < len(resources):
            ready = [
                r for r in resources if r.urn not in done and all(d in done or d not in by_urn for d in r.dependencies)
            ]
            if not ready:
                raise RuntimeError("dependency cycle among registered resources")
            order.append(ready[0])
            done.add(ready[0].urn)
        return order

    # -- up / destroy -----------------------------------------------------------------
    def up(self, deployment: Deployment) -> None:
        for resource in self.ordered(deployment.resources):
            if resource.type.startswith(COMPONENT_PREFIX) or resource.type.startswith("pulumi:providers:"):
                continue
            inputs = self._resolve(resource.inputs)
            if self.state.inputs.get(resource.urn) == inputs:
                continue  # unchanged: nothing to do
            real_id, outputs = self._apply(resource, inputs, update=resource.urn in self.state.inputs)
            self.state.inputs[resource.urn] = inputs
            self.state.real_ids[resource.urn] = real_id
            self.state.registered[resource.urn] = resource
            self._learn(resource, real_id, outputs)

    def destroy(self) -> None:
        for resource in reversed(self.ordered(list(self.state.registered.values()))):
            inputs = self.state.inputs.pop(resource.urn)
            real_id = self.state.real_ids.pop(resource.urn)
            del self.state.registered[resource.urn]
            if resource.retain_on_delete:
                continue  # left where it is, as Pulumi's retain_on_delete does
            if resource.type == "docker:index/service:Service":
                self.engine.request("DELETE", f"/services/{real_id}")
            elif resource.type == "docker:index/network:Network":
                self._wait_until_detached(real_id)
                self.engine.request("DELETE", f"/networks/{real_id}")
            elif resource.type == "docker:index/volume:Volume":
                self._wait_until_unused(real_id)
                self.engine.request("DELETE", f"/volumes/{real_id}")
            elif resource.type == "command:local:Command" and inputs.get("delete"):
                self._run_shell(resource.name, inputs["delete"], None)

    # -- per type ---------------------------------------------------------------------
    def _apply(self, resource: Registered, inputs: dict[str, Any], update: bool) -> tuple[str, dict[str, Any]]:
        if resource.type == "command:local:Command":
            result = self._run_shell(resource.name, inputs["create"], inputs.get("stdin"))
            return resource.name, {"stdout": result.stdout.strip()}
        if resource.type == "docker:index/network:Network":
            body = {
                "Name": inputs["name"],
                "Driver": inputs["driver"],
                "Attachable": inputs["attachable"],
                "CheckDuplicate": True,
            }
            return self.engine.request("POST", "/networks/create", body)["Id"], {}
        if resource.type == "docker:index/volume:Volume":
            # Creating a volume that exists returns it: a retained volume is adopted as it is.
            return self.engine.request("POST", "/volumes/create", {"Name": inputs["name"]})["Name"], {}
        if resource.type == "docker:index/service:Service":
            return self._service(resource, inputs, update), {}
        raise NotImplementedError(f"the stand-in does not apply {resource.type} ({resource.name})")

    def _service(self, resource: Registered, inputs: dict[str, Any], update: bool) -> str:
        spec = service_spec(inputs)
        created_at = time.monotonic()
        if update:
            service_id = self.state.real_ids[resource.urn]
            version = self.engine.request("GET", f"/services/{service_id}")["Version"]["Index"]
            self.engine.request("POST", f"/services/{service_id}/update", spec, query={"version": version})
            first_check = FIRST_CHECK_AFTER_UPDATE
        else:
            service_id = self.engine.request("POST", "/services/create", spec)["ID"]
            first_check = seconds(inputs["convergeConfig"]["delay"])
        timeout = seconds(inputs["convergeConfig"]["timeout"])
        running_at = self._converge(service_id, spec, first_check, timeout)
        self.timings[inputs["name"]] = ServiceTiming(created_at, running_at)
        time.sleep(READ_BACK)
        return service_id

    def _converge(self, service_id: str, spec: dict[str, Any], first_check: float, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        time.sleep(first_check)
        interval = 0.0
        while not self._converged(service_id, spec):
            if time.monotonic() >= deadline:
                raise TimeoutError(f"service {spec['Name']} did not converge within {timeout} s")
            interval = min(max(interval * 2, MIN_CHECK_INTERVAL), MAX_CHECK_INTERVAL)
            time.sleep(interval)
        return time.monotonic()

    def _converged(self, service_id: str, spec: dict[str, Any]) -> bool:
        service = self.engine.request("GET", f"/services/{service_id}")
        update = service.get("UpdateStatus") or {}
        if update.get("State") in ("updating", "rollback_started"):
            return False
        if update.get("State") in ("paused", "rollback_paused", "rollback_completed"):
            raise EngineError(f"service {spec['Name']}: update {update['State']}: {update.get('Message')}")
        tasks = self.engine.request("GET", "/tasks", query={"filters": f'{{"service":["{service_id}"]}}'})
        image = spec["TaskTemplate"]["ContainerSpec"]["Image"]
        running = [
            t
            for t in tasks
            if t["DesiredState"] == "running"
            and t["Status"]["State"] == "running"
            and t["Spec"]["ContainerSpec"]["Image"].split("@")[0] == image
        ]
        return len(running) == 1

    def _wait_until_detached(self, network_id: str) -> None:
        """Removed services' containers take a few seconds to leave the network."""
        deadline = time.monotonic() + 60
        while self.engine.request("GET", f"/networks/{network_id}").get("Containers"):
            if time.monotonic() >= deadline:
                raise TimeoutError(f"network {network_id} still has containers after 60 s")
            time.sleep(0.2)

    def _wait_until_unused(self, volume: str) -> None:
        deadline = time.monotonic() + 60
        query = {"all": "1", "filters": json.dumps({"volume": [volume]})}
        while self.engine.request("GET", "/containers/json", query=query):
            if time.monotonic() >= deadline:
                raise TimeoutError(f"volume {volume} still used by containers after 60 s")
            time.sleep(0.2)

    # -- helpers ----------------------------------------------------------------------
    def _run_shell(self, name: str, script: str, stdin: str | None) -> subprocess.CompletedProcess[str]:
        result = run_script(script, stdin=stdin, check=False)
        self.command_output[name] = result
        if result.returncode != 0:
            raise EngineError(f"command {name} exited {result.returncode}: {result.stderr.strip()}")
        return result

    def _learn(self, resource: Registered, real_id: str, outputs: dict[str, Any]) -> None:
        if resource.mock_id and resource.mock_id != real_id:
            self.known[resource.mock_id] = real_id
        mock_stdout = resource.mock_outputs.get("stdout")
        if mock_stdout and "stdout" in outputs:
            self.known[mock_stdout] = outputs["stdout"]

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self._resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._resolve(v) for v in value]
        if isinstance(value, str):
            for mock, real in self.known.items():
                value = value.replace(mock, real)
        return value


def service_spec(inputs: dict[str, Any]) -> dict[str, Any]:
    """The Engine API ServiceSpec for a docker:index/service:Service's inputs."""
    task = inputs["taskSpec"]
    container = task["containerSpec"]
    endpoint = inputs.get("endpointSpec", {})
    spec: dict[str, Any] = {
        "Name": inputs["name"],
        "TaskTemplate": {
            "ContainerSpec": {
                "Image": container["image"],
                "Args": container.get("args", []),
                "Mounts": [
                    {"Type": m["type"], "Source": m["source"], "Target": m["target"]}
                    for m in container.get("mounts", [])
                ],
            },
            "Networks": [{"Target": n["id"]} for n in task.get("networksAdvanceds", [])],
            "Placement": {"Constraints": task.get("placement", {}).get("constraints", [])},
        },
        "Mode": {"Replicated": {"Replicas": 1}},
        "EndpointSpec": {
            "Mode": endpoint.get("mode", "vip"),
            "Ports": [
                {
                    "Name": p.get("name", ""),
                    "Protocol": p.get("protocol", "tcp"),
                    "TargetPort": int(p["targetPort"]),  # Pulumi numbers arrive as floats
                    "PublishedPort": int(p["publishedPort"]),
                    "PublishMode": p.get("publishMode", "ingress"),
                }
                for p in endpoint.get("ports", [])
            ],
        },
    }
    if "updateConfig" in inputs:
        spec["UpdateConfig"] = {"Order": inputs["updateConfig"]["order"]}
    return spec
