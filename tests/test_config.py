"""Config validation: every bad value stops the program with the key, the value and the form."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
from harness import DELETE, Deployment, fake_host_key, run_program, stack_config

MANAGER = {"name": "m1", "address": "10.0.0.1", "role": "manager", "local": True}


def _hosts(*extra: dict[str, Any]) -> list[dict[str, Any]]:
    return [MANAGER, *extra]


BIND_PATHS = {
    "wippdb": "/srv/w/db",
    "wippdata": "/srv/w/data",
    "pegasusdb": "/srv/w/pdb",
    "pegasusdata": "/srv/w/pdata",
}

# (test id, stack, overrides, text the error must contain)
BAD_VALUES: list[tuple[str, str, dict[str, Any], list[str]]] = [
    ("memory-4X", "single", {"memory": "4X"}, ["wipp:memory", "'4X'", "size[g|G|m|M|k|K]"]),
    ("memory-4.5G", "single", {"memory": "4.5G"}, ["wipp:memory", "'4.5G'"]),
    ("memory-negative", "single", {"memory": "-2G"}, ["wipp:memory", "'-2G'"]),
    ("memory-zero", "single", {"memory": "0G"}, ["wipp:memory", "'0G'"]),
    ("memory-empty", "single", {"memory": ""}, ["wipp:memory", "''"]),
    ("memory-no-unit", "single", {"memory": "4096"}, ["wipp:memory", "'4096'"]),
    (
        "no-manager",
        "multi",
        {"hosts": [{"name": "w", "address": "10.0.0.2", "role": "worker"}]},
        ["wipp:hosts", "role: manager"],
    ),
    (
        "duplicate-name",
        "multi",
        {"hosts": _hosts({"name": "m1", "address": "10.0.0.2", "role": "worker"})},
        ["wipp:hosts", "unique name", "'m1' repeats"],
    ),
    (
        "duplicate-address",
        "multi",
        {"hosts": _hosts({"name": "w1", "address": "10.0.0.1", "role": "worker"})},
        ["wipp:hosts", "unique address", "'10.0.0.1' repeats"],
    ),
    (
        "unknown-role",
        "single",
        {"hosts": [{**MANAGER, "role": "boss"}]},
        ["wipp:hosts[0].role", "'boss'", "manager or worker"],
    ),
    (
        "bad-address",
        "single",
        {"hosts": [{**MANAGER, "address": "not an address!"}]},
        ["wipp:hosts[0].address", "'not an address!'", "IPv4 address or a DNS host name"],
    ),
    (
        "bad-ip-like-address",
        "single",
        {"hosts": [{**MANAGER, "address": "10.0.0.300"}]},
        ["wipp:hosts[0].address", "'10.0.0.300'"],
    ),
    (
        "ipv6-address",
        "single",
        {"hosts": [{**MANAGER, "address": "2001:db8::1"}]},
        ["wipp:hosts[0].address", "'2001:db8::1'", "IPv4 address"],
    ),
    ("unknown-host-key", "single", {"hosts": [{**MANAGER, "ip": "10.0.0.1"}]}, ["wipp:hosts[0]", "unknown: ['ip']"]),
    (
        "two-local-hosts",
        "single",
        {
            "hosts": _hosts({"name": "m2", "address": "10.0.0.2", "role": "manager", "local": True}),
            "storage": {"mode": "bind", "paths": BIND_PATHS},
        },
        ["wipp:hosts", "at most one host with local: true"],
    ),
    ("no-hosts", "single", {"hosts": DELETE}, ["wipp:hosts", "non-empty list"]),
    (
        "bind-without-paths",
        "multi",
        {"storage": {"mode": "bind"}},
        ["wipp:storage.paths", "absolute folders for exactly"],
    ),
    (
        "bind-missing-one-path",
        "multi",
        {"storage": {"mode": "bind", "paths": {k: v for k, v in BIND_PATHS.items() if k != "pegasusdata"}}},
        ["wipp:storage.paths", "pegasusdata"],
    ),
    (
        "bind-relative-path",
        "multi",
        {"storage": {"mode": "bind", "paths": {**BIND_PATHS, "wippdb": "data/db"}}},
        ["wipp:storage.paths.wippdb", "'data/db'", "absolute folder path"],
    ),
    (
        "bind-same-path-twice",
        "multi",
        {"storage": {"mode": "bind", "paths": {**BIND_PATHS, "wippdata": "/srv/w/db"}}},
        ["wipp:storage.paths", "four different folders"],
    ),
    (
        "volume-names-not-object",
        "single",
        {"storage": {"mode": "volume", "names": ["a"]}},
        ["wipp:storage.names", "an object of volume names"],
    ),
    (
        "volume-name-unknown-key",
        "single",
        {"storage": {"mode": "volume", "names": {"logs": "v"}}},
        ["wipp:storage.names.logs"],
    ),
    ("unknown-storage-mode", "single", {"storage": {"mode": "nfs"}}, ["wipp:storage", "{mode: volume}"]),
    (
        "volumes-on-several-hosts",
        "multi",
        {"storage": {"mode": "volume"}},
        ["wipp:storage.mode", "'volume'", "bind with shared folders", "3 hosts"],
    ),
    ("web-port-zero", "single", {"webPort": 0}, ["wipp:webPort", "1 to 65535"]),
    ("web-port-too-high", "single", {"webPort": 70000}, ["wipp:webPort", "70000", "1 to 65535"]),
    ("dashboard-port-text", "single", {"dashboardPort": "https"}, ["wipp:dashboardPort", "'https'"]),
    (
        "ssh-port-out-of-range",
        "multi",
        {"hosts": [{"name": "m", "address": "10.0.0.1", "role": "manager", "sshPort": 65536}]},
        ["wipp:hosts[0].sshPort", "65536"],
    ),
    (
        "web-equals-dashboard",
        "single",
        {"webPort": 18080, "dashboardPort": 18080},
        ["wipp:dashboardPort", "18080", "different from wipp:webPort"],
    ),
    ("web-port-is-swarm-port", "single", {"webPort": 2377}, ["wipp:webPort", "2377", "swarm management"]),
    ("publish-mode", "single", {"publishMode": "nodeport"}, ["wipp:publishMode", "'nodeport'", "ingress or host"]),
    ("endpoint-mode", "single", {"endpointMode": "rr"}, ["wipp:endpointMode", "'rr'", "vip or dnsrr"]),
    (
        "dnsrr-with-ingress",
        "single",
        {"endpointMode": "dnsrr"},
        ["wipp:endpointMode", "'dnsrr'", "needs publishMode host"],
    ),
    ("cidr-garbage", "single", {"allowedSources": ["lab-net"]}, ["wipp:allowedSources[0]", "'lab-net'", "CIDR"]),
    (
        "cidr-prefix-too-long",
        "single",
        {"allowedSources": ["10.0.0.0/33"]},
        ["wipp:allowedSources[0]", "'10.0.0.0/33'"],
    ),
    ("cidr-without-prefix", "single", {"allowedSources": ["10.0.0.5"]}, ["wipp:allowedSources[0]", "prefix length"]),
    (
        "sources-without-firewall",
        "single",
        {"allowedSources": ["10.0.0.0/24"], "manageFirewall": False},
        ["wipp:allowedSources", "10.0.0.0/24", "wipp:manageFirewall is false", "restricted by nothing"],
    ),
    *[
        (
            f"bind-path-hostile-{index}",
            "multi",
            {"storage": {"mode": "bind", "paths": {**BIND_PATHS, "wippdata": path}}},
            ["wipp:storage.paths.wippdata", repr(path), "letters, digits"],
        )
        for index, path in enumerate(
            ["/srv/w/my data", "/srv/w/*", "/srv/w/da'ta", "/srv/w/../etc", "/srv/w/$(reboot)", "/srv//w", "/srv/w/"]
        )
    ],
    *[
        (
            f"bind-path-system-{path.strip('/').replace('/', '-') or 'root'}",
            "multi",
            {"storage": {"mode": "bind", "paths": {**BIND_PATHS, "pegasusdb": path}}},
            ["wipp:storage.paths.pegasusdb", repr(path), "not a system folder"],
        )
        for path in ["/etc", "/home", "/usr", "/var", "/usr/local/wipp", "/etc/wipp"]
    ],
    (
        "bind-path-root",
        "multi",
        {"storage": {"mode": "bind", "paths": {**BIND_PATHS, "pegasusdb": "/"}}},
        ["wipp:storage.paths.pegasusdb", "'/'"],
    ),
    (
        "bind-path-nested",
        "multi",
        {"storage": {"mode": "bind", "paths": {**BIND_PATHS, "wippdata": "/srv/w/db/data"}}},
        ["wipp:storage.paths", "none inside another", "/srv/w/db/data is inside /srv/w/db"],
    ),
    (
        "remote-host-without-key",
        "multi",
        {"sshPrivateKey": DELETE},
        ["wipp:sshPrivateKey is missing", "wipp-manager", "pulumi config set --secret"],
    ),
    ("version-empty", "single", {"version": ""}, ["wipp:version", "''", "image tag"]),
    ("version-with-space", "single", {"version": "2.2 .0"}, ["wipp:version", "'2.2 .0'"]),
    ("version-with-colon", "single", {"version": "2.2.0:latest"}, ["wipp:version", "image tag"]),
    ("mongo-image-bad", "single", {"mongoImage": "Mongo::3.4"}, ["wipp:mongoImage", "'Mongo::3.4'"]),
    ("network-name", "single", {"network": "wipp net"}, ["wipp:network", "'wipp net'"]),
    ("boolean", "single", {"manageFirewall": "yes"}, ["wipp:manageFirewall", "'yes'", "true or false"]),
    ("converge-interval", "single", {"convergeInterval": "5"}, ["wipp:convergeInterval", "'5'", "duration"]),
    ("converge-timeout-zero", "single", {"convergeTimeout": "0s"}, ["wipp:convergeTimeout", "'0s'"]),
    ("service-args-unknown-service", "single", {"serviceArgs": {"web": ["x"]}}, ["wipp:serviceArgs.web", "mongodb"]),
    (
        "service-args-not-list",
        "single",
        {"serviceArgs": {"exec": "-e master 4G"}},
        ["wipp:serviceArgs.exec", "list of strings"],
    ),
    (
        "service-args-bad-placeholder",
        "single",
        {"serviceArgs": {"exec": ["-e", "{manager}"]}},
        ["wipp:serviceArgs.exec", "{master}"],
    ),
    (
        "service-args-lone-brace",
        "single",
        {"serviceArgs": {"master": ["-m", "{"]}},
        ["wipp:serviceArgs.master", "literal brace"],
    ),
    ("service-args-positional", "single", {"serviceArgs": {"master": ["{0}"]}}, ["wipp:serviceArgs.master"]),
    (
        "mount-target-relative",
        "single",
        {"mountTargets": {"wippdb": "data/db"}},
        ["wipp:mountTargets.wippdb", "'data/db'", "absolute path"],
    ),
    ("mount-target-unknown", "single", {"mountTargets": {"logs": "/logs"}}, ["wipp:mountTargets.logs"]),
    ("container-port-unknown", "single", {"containerPorts": {"api": 9000}}, ["wipp:containerPorts.api"]),
    ("container-port-range", "single", {"containerPorts": {"web": 0}}, ["wipp:containerPorts.web", "1 to 65535"]),
    ("docker-host", "single", {"dockerHost": "/var/run/docker.sock"}, ["wipp:dockerHost", "unix:///"]),
    ("missing-default", "single", {"version": DELETE}, ["wipp:version is missing", "Pulumi.yaml"]),
    (
        "host-key-garbage",
        "multi",
        {"hosts": [{"name": "m", "address": "10.0.0.1", "role": "manager", "hostKey": "AAAA not a key"}]},
        ["wipp:hosts[0].hostKey", "'AAAA not a key'", "ssh-keyscan"],
    ),
    (
        "host-key-type-mismatch",  # an ed25519 blob labelled as RSA: a copy-paste slip
        "multi",
        {
            "hosts": [
                {"name": "m", "address": "10.0.0.1", "role": "manager", "hostKey": "ssh-rsa " + fake_host_key("x")[12:]}
            ]
        },
        ["wipp:hosts[0].hostKey", "ssh-keyscan"],
    ),
]


def test_remote_hosts_without_a_host_key_are_refused_unless_the_user_opts_out() -> None:
    with pytest.raises(pulumi.RunError) as error:
        run_program("multi", fill_host_keys=False)
    message = str(error.value)
    assert "wipp:hosts[0].hostKey is missing" in message and "wipp-manager" in message
    assert "ssh-keyscan -t ed25519 -p 22 192.0.2.10" in message and "wipp:allowUnknownHostKeys true" in message
    opted_out = run_program("multi", {"allowUnknownHostKeys": True}, fill_host_keys=False)
    assert all("hostKey" not in c.inputs["connection"] for c in opted_out.of_type("command:remote:Command"))
    # A local host needs none.
    assert run_program("single", fill_host_keys=False).of_type("command:local:Command")


@pytest.mark.parametrize(
    "stack, overrides, expected",
    [pytest.param(stack, overrides, expected, id=test_id) for test_id, stack, overrides, expected in BAD_VALUES],
)
def test_bad_value_fails_with_key_value_and_form(stack: str, overrides: dict[str, Any], expected: list[str]) -> None:
    with pytest.raises(pulumi.RunError) as error:
        run_program(stack, overrides)
    for text in expected:
        assert text in str(error.value)


def test_bad_value_fails_before_any_resource_is_registered() -> None:
    failed = Deployment()
    with pytest.raises(pulumi.RunError):
        run_program("multi", {"memory": "4X"}, record_into=failed)
    assert failed.resources == []
    # The same stack with good config does register resources: the check above can fail.
    assert len(run_program("multi").resources) > 10


@pytest.mark.parametrize("memory", ["4G", "4g", "512m", "512M", "1048576k", "64K", "16G"])
def test_good_memory_sizes_reach_the_executor(memory: str) -> None:
    exec_args = run_program("single", {"memory": memory}).named("exec").inputs["taskSpec"]["containerSpec"]["args"]
    assert exec_args == ["-e", "master", memory]


def test_host_names_are_accepted_and_not_checked_against_cidrs() -> None:
    hosts = [
        {"name": "m1", "address": "manager.lab.example", "role": "manager", "sshUser": "admin", "sshPort": 2222},
        {"name": "w1", "address": "192.0.2.99", "role": "worker"},
    ]
    deployment = run_program("multi", {"hosts": hosts})
    assert [n["address"] for n in deployment.outputs["nodes"]] == ["manager.lab.example", "192.0.2.99"]


def test_cidr_with_host_bits_is_normalised_to_its_network() -> None:
    rules = run_program("single", {"allowedSources": ["10.0.0.7/24"]}).named("firewall-wipp-host-published-ports")
    assert "\nSOURCES=10.0.0.0/24\n" in rules.inputs["create"]


def test_stack_files_declare_what_the_issue_asks() -> None:
    single = stack_config("single")
    assert single["wipp:hosts"][0]["local"] is True
    assert single["wipp:storage"]["mode"] == "volume"
    multi = stack_config("multi")
    roles = [h["role"] for h in multi["wipp:hosts"]]
    assert roles == ["manager", "worker", "worker"]
    assert all(h["address"].startswith("192.0.2.") for h in multi["wipp:hosts"])
    assert {p.rsplit("/", 1)[0] for p in multi["wipp:storage"]["paths"].values()} == {"/mnt/wipp-shared"}
