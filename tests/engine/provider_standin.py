"""Applies what the program registered under mocks to a real Docker Engine.

This stands in for the Pulumi engine with the pulumi-docker and pulumi-command
providers, which cannot be installed on the CI machines. It is not `pulumi up`,
and it is kept small on purpose:

- resources are applied in the dependency order the program registered;
- `command:local:Command` runs its `create` text with /bin/sh (stdin as given),
  and its `delete` text on destroy;
- docker Network, Volume, Service and (created once) Container inputs become Engine API calls; a second
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
  period); a network or volume is deleted once no container uses it, and a
  network counts as deleted once the engine no longer lists it.

It does not diff, refresh, plan replacements or open SSH sessions.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import dataclass
from typing import Any

from docker_api import Engine, EngineError, run_script, wait_until
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
class Applied:
    """What a stack's state holds for one resource between `up`s."""

    resource: Registered
    inputs: dict[str, Any]  # as applied, with mock values replaced by real ones
    real_id: str


class ProviderStandIn:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.state: dict[str, Applied] = {}  # by URN
        self.known: dict[str, str] = {}  # mock value -> real value
        self.timings: dict[str, ServiceTiming] = {}

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
            previous = self.state.get(resource.urn)
            if previous and previous.inputs == inputs:
                continue  # unchanged: nothing to do
            real_id, outputs = self._apply(resource, inputs, previous)
            self.state[resource.urn] = Applied(resource, inputs, real_id)
            self._learn(resource, real_id, outputs)

    def destroy(self) -> None:
        for resource in reversed(self.ordered([applied.resource for applied in self.state.values()])):
            applied = self.state.pop(resource.urn)
            if not resource.retain_on_delete:  # retained: left where it is, as Pulumi does
                self._delete(applied)

    # -- per type ---------------------------------------------------------------------
    def _apply(
        self, resource: Registered, inputs: dict[str, Any], previous: Applied | None
    ) -> tuple[str, dict[str, Any]]:
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
            return self._service(inputs, previous), {}
        if resource.type == "docker:index/container:Container" and previous is None:
            return self._container(inputs), {}
        raise NotImplementedError(f"the stand-in does not apply {resource.type} ({resource.name})")

    def _delete(self, applied: Applied) -> None:
        kind, real_id = applied.resource.type, applied.real_id
        if kind == "docker:index/service:Service":
            self.engine.request("DELETE", f"/services/{real_id}")
        elif kind == "docker:index/container:Container":
            self.engine.request("DELETE", f"/containers/{real_id}", query={"force": "true"})
        elif kind == "docker:index/network:Network":
            # Removed services' containers take a few seconds to leave the network.
            wait_until(
                lambda: not self.engine.request("GET", f"/networks/{real_id}").get("Containers"),
                timeout=60,
                interval=0.2,
                what=f"network {real_id} without containers",
            )
            self.engine.request("DELETE", f"/networks/{real_id}")
            # Swarm removes an overlay network asynchronously, and the node keeps its own copy a
            # moment longer than the swarm's list shows it: the name is free (a create with
            # CheckDuplicate passes) only once a lookup by name finds nothing, on either side.
            name = applied.inputs["name"]
            wait_until(
                lambda: (
                    real_id not in {n["Id"] for n in self.engine.request("GET", "/networks")}
                    and not self.engine.network_exists(name)
                ),
                timeout=60,
                interval=0.2,
                what=f"network {name} ({real_id}) removed",
            )
        elif kind == "docker:index/volume:Volume":
            in_use = {"all": "1", "filters": json.dumps({"volume": [real_id]})}
            wait_until(
                lambda: not self.engine.request("GET", "/containers/json", query=in_use),
                timeout=60,
                interval=0.2,
                what=f"volume {real_id} unused",
            )
            self.engine.request("DELETE", f"/volumes/{real_id}")
        elif kind == "command:local:Command" and applied.inputs.get("delete"):
            self._run_shell(applied.resource.name, applied.inputs["delete"], None)

    def _container(self, inputs: dict[str, Any]) -> str:
        """Create and start; with mustRun, as upstream, it must be running once started."""
        ports = {f"{int(p['internal'])}/{p.get('protocol', 'tcp')}": p for p in inputs.get("ports", [])}
        body = {
            "Image": inputs["image"],
            "Cmd": inputs.get("command"),
            "ExposedPorts": {key: {} for key in ports},
            "HostConfig": {
                "PortBindings": {
                    key: [{"HostIp": p.get("ip", ""), "HostPort": str(int(p["external"]))}] for key, p in ports.items()
                },
                "Mounts": [
                    {"Type": m["type"], "Source": m["source"], "Target": m["target"]} for m in inputs.get("mounts", [])
                ],
                "RestartPolicy": {"Name": inputs.get("restart", "no")},
            },
            "NetworkingConfig": {"EndpointsConfig": {n["name"]: {} for n in inputs.get("networksAdvanced", [])}},
        }
        container_id = self.engine.request("POST", "/containers/create", body, query={"name": inputs["name"]})["Id"]
        self.engine.request("POST", f"/containers/{container_id}/start")
        if (
            inputs.get("mustRun", True)
            and not self.engine.request("GET", f"/containers/{container_id}/json")["State"]["Running"]
        ):
            raise EngineError(f"container {inputs['name']} is not running after its start")
        return container_id

    def _service(self, inputs: dict[str, Any], previous: Applied | None) -> str:
        spec = service_spec(inputs)
        created_at = time.monotonic()
        if previous:
            service_id = previous.real_id
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
        tasks = self.engine.request("GET", "/tasks", query={"filters": json.dumps({"service": [service_id]})})
        image = spec["TaskTemplate"]["ContainerSpec"]["Image"]
        running = [
            t
            for t in tasks
            if t["DesiredState"] == "running"
            and t["Status"]["State"] == "running"
            and t["Spec"]["ContainerSpec"]["Image"].split("@")[0] == image
        ]
        return len(running) == 1

    # -- helpers ----------------------------------------------------------------------
    def _run_shell(self, name: str, script: str, stdin: str | None) -> subprocess.CompletedProcess[str]:
        result = run_script(script, stdin=stdin, check=False)
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
