"""Config validation: every bad value stops the program with the key, the value and the form."""

from __future__ import annotations

import re
from typing import Any

import pulumi
import pytest
import yaml
from harness import (
    DELETE,
    REPO,
    Deployment,
    FakeMachine,
    assert_mentions,
    fake_host_key,
    run_program,
    script_variables,
    stack_config,
)

from components.config import Settings

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
    ("memory-4.5G", "single", {"memory": "4.5G"}, ["wipp:memory", "'4.5G'", "size[g|G|m|M|k|K]"]),
    ("memory-negative", "single", {"memory": "-2G"}, ["wipp:memory", "'-2G'", "size[g|G|m|M|k|K]"]),
    ("memory-zero", "single", {"memory": "0G"}, ["wipp:memory", "'0G'", "size[g|G|m|M|k|K]"]),
    ("memory-empty", "single", {"memory": ""}, ["wipp:memory", "''", "size[g|G|m|M|k|K]"]),
    ("memory-no-unit", "single", {"memory": "4096"}, ["wipp:memory", "'4096'", "size[g|G|m|M|k|K]"]),
    (
        "no-manager",
        "multi",
        {"hosts": [{"name": "w", "address": "10.0.0.2", "role": "worker"}]},
        ['wipp:hosts = ["w"]', "at least one host with role: manager"],
    ),
    (
        "duplicate-name",
        "multi",
        {"hosts": _hosts({"name": "m1", "address": "10.0.0.2", "role": "worker"})},
        ["wipp:hosts[1].name = 'm1'", "unique name", "'m1' repeats"],
    ),
    (
        "duplicate-address",
        "multi",
        {"hosts": _hosts({"name": "w1", "address": "10.0.0.1", "role": "worker"})},
        ["wipp:hosts[1].address = '10.0.0.1'", "unique address", "'10.0.0.1' repeats"],
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
        ["wipp:hosts[0].address", "'10.0.0.300'", "IPv4 address or a DNS host name"],
    ),
    (
        "ipv6-address",
        "single",
        {"hosts": [{**MANAGER, "address": "2001:db8::1"}]},
        ["wipp:hosts[0].address", "'2001:db8::1'", "IPv4 address"],
    ),
    (
        "unknown-host-key",
        "single",
        {"hosts": [{**MANAGER, "ip": "10.0.0.1"}]},
        ["wipp:hosts[0].ip is not a key this program knows", "known keys here: name, address"],
    ),
    (
        "two-local-hosts",
        "single",
        {
            "hosts": _hosts({"name": "m2", "address": "10.0.0.2", "role": "manager", "local": True}),
            "storage": {"mode": "bind", "paths": BIND_PATHS},
        },
        ["wipp:hosts[1].local = true", "at most one host with local: true"],
    ),
    ("no-hosts", "single", {"hosts": DELETE}, ["wipp:hosts is missing", "non-empty list"]),
    (
        "bind-without-paths",
        "multi",
        {"storage": {"mode": "bind"}},
        ["wipp:storage.paths is missing", "absolute folders for exactly"],
    ),
    (
        "bind-missing-one-path",
        "multi",
        {"storage": {"mode": "bind", "paths": {k: v for k, v in BIND_PATHS.items() if k != "pegasusdata"}}},
        ["wipp:storage.paths.pegasusdata is missing", "an absolute folder path"],
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
        ["wipp:storage.paths.wippdata = '/srv/w/db'", "four different folders ('/srv/w/db' repeats)"],
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
        ["wipp:storage.names.logs is not a key", "known keys here: wippdb, wippdata, pegasusdb, pegasusdata"],
    ),
    (
        "unknown-storage-mode",
        "single",
        {"storage": {"mode": "nfs"}},
        ["wipp:storage.mode = 'nfs'", "{mode: volume}"],
    ),
    (
        "volumes-on-several-hosts",
        "multi",
        {"storage": {"mode": "volume"}},
        ['wipp:storage = {"mode": "volume"', "bind with shared folders", "3 hosts"],
    ),
    ("web-port-zero", "single", {"webPort": 0}, ["wipp:webPort = '0'", "1 to 65535"]),
    ("web-port-too-high", "single", {"webPort": 70000}, ["wipp:webPort", "70000", "1 to 65535"]),
    ("dashboard-port-text", "single", {"dashboardPort": "https"}, ["wipp:dashboardPort", "'https'", "TCP port number"]),
    (
        "ssh-port-out-of-range",
        "multi",
        {"hosts": [{"name": "m", "address": "10.0.0.1", "role": "manager", "sshPort": 65536}]},
        ["wipp:hosts[0].sshPort", "65536", "1 to 65535"],
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
        ["wipp:allowedSources[0]", "'10.0.0.0/33'", "a CIDR with a prefix length"],
    ),
    (
        "cidr-without-prefix",
        "single",
        {"allowedSources": ["10.0.0.5"]},
        ["wipp:allowedSources[0] = '10.0.0.5'", "prefix length"],
    ),
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
        ["wipp:storage.paths.pegasusdb", "'/'", "an absolute folder path of letters"],
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
    ("version-with-space", "single", {"version": "2.2 .0"}, ["wipp:version", "'2.2 .0'", "image tag"]),
    ("version-with-colon", "single", {"version": "2.2.0:latest"}, ["wipp:version = '2.2.0:latest'", "image tag"]),
    ("mongo-image-bad", "single", {"mongoImage": "Mongo::3.4"}, ["wipp:mongoImage", "'Mongo::3.4'", "image reference"]),
    *[
        (
            f"mongo-user-{value}",
            "multi",
            {"mongoUser": value},
            [f"wipp:mongoUser = {value!r}", "a numeric user:group such as 1000:1000, or empty for the image's own"],
        )
        for value in ("mongodb", "1000", "1000:", ":1000", "1000:1000:1", "-1:1000", " 1000:1000")
    ],
    (
        "image-registry-scheme",
        "single",
        {"imageRegistry": "https://registry.lab"},
        ["wipp:imageRegistry = 'https://registry.lab'", "a registry address with an optional path"],
    ),
    (
        "image-registry-trailing-slash",
        "single",
        {"imageRegistry": "registry.lab:5000/"},
        ["wipp:imageRegistry = 'registry.lab:5000/'", "registry.lab.example:5000"],
    ),
    (
        "image-registry-uppercase-path",
        "single",
        {"imageRegistry": "registry.lab/Team"},
        ["wipp:imageRegistry = 'registry.lab/Team'", "a registry address"],
    ),
    (
        "registry-user-with-space",
        "single",
        {"registryUser": "lab user", "registryPassword": "pw"},
        ["wipp:registryUser = 'lab user'", "no spaces or ':'"],
    ),
    (
        "registry-user-without-password",
        "single",
        {"registryUser": "lab"},
        [
            "wipp:registryPassword is missing",
            "wipp:registryUser is 'lab'",
            "pulumi config set --secret wipp:registryPassword",
        ],
    ),
    (
        "registry-password-without-user",
        "single",
        {"registryPassword": "pw"},
        ["wipp:registryPassword", "no password without wipp:registryUser"],
    ),
    ("network-name", "single", {"network": "wipp net"}, ["wipp:network", "'wipp net'", "swarm network name"]),
    ("boolean", "single", {"manageFirewall": "yes"}, ["wipp:manageFirewall", "'yes'", "true or false"]),
    ("converge-interval", "single", {"convergeInterval": "5"}, ["wipp:convergeInterval", "'5'", "duration"]),
    (
        "converge-timeout-zero",
        "single",
        {"convergeTimeout": "0s"},
        ["wipp:convergeTimeout", "'0s'", "positive duration"],
    ),
    (
        "service-args-unknown-service",
        "single",
        {"serviceArgs": {"web": ["x"]}},
        ["wipp:serviceArgs.web is not a key", "known keys here: mongodb"],
    ),
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
        ["wipp:serviceArgs.exec", "{manager}", "placeholders among {master}"],
    ),
    (
        "service-args-lone-brace",
        "single",
        {"serviceArgs": {"master": ["-m", "{"]}},
        ["wipp:serviceArgs.master", "literal brace"],
    ),
    (
        "service-args-positional",
        "single",
        {"serviceArgs": {"master": ["{0}"]}},
        ["wipp:serviceArgs.master", '["{0}"]', "placeholders among"],
    ),
    (
        "service-name-bad",
        "single",
        {"serviceNames": {"wipp": "lab wipp"}},
        ["wipp:serviceNames.wipp", "'lab wipp'", "swarm service name"],
    ),
    (
        "service-name-repeated",
        "single",
        {"serviceNames": {"master": "lab", "wipp": "lab"}},
        ["wipp:serviceNames.wipp", "a name of its own ('lab' repeats)"],
    ),
    (
        "service-name-unknown",
        "single",
        {"serviceNames": {"web": "lab-web"}},
        ["wipp:serviceNames.web is not a key", "known keys here: mongodb"],
    ),
    (
        "mount-target-relative",
        "single",
        {"mountTargets": {"wippdb": "data/db"}},
        ["wipp:mountTargets.wippdb", "'data/db'", "absolute path"],
    ),
    (
        "mount-target-unknown",
        "single",
        {"mountTargets": {"logs": "/logs"}},
        ["wipp:mountTargets.logs is not a key", "known keys here: wippdb"],
    ),
    (
        "container-port-unknown",
        "single",
        {"containerPorts": {"api": 9000}},
        ["wipp:containerPorts.api is not a key", "known keys here: web, dashboard"],
    ),
    ("container-port-range", "single", {"containerPorts": {"web": 0}}, ["wipp:containerPorts.web = 0", "1 to 65535"]),
    (
        "docker-host",
        "single",
        {"dockerHost": "/var/run/docker.sock"},
        ["wipp:dockerHost = '/var/run/docker.sock'", "unix:///"],
    ),
    (
        "missing-default",
        "single",
        {"version": DELETE},
        ["wipp:version is missing", "image tag", "Pulumi.yaml"],
    ),
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
        ["wipp:hosts[0].hostKey", "ssh-keyscan", "the key's data is not an ssh-rsa key"],
    ),
]


def test_remote_hosts_without_a_host_key_are_refused_unless_the_user_opts_out() -> None:
    with pytest.raises(pulumi.RunError) as error:
        run_program("multi", fill_host_keys=False)
    message = str(error.value)
    assert "wipp:hosts[0].hostKey is missing" in message and "wipp-manager" in message
    assert "ssh-keyscan -t ed25519 -p 22 10.20.0.10" in message and "wipp:allowUnknownHostKeys true" in message
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


@pytest.mark.parametrize("memory", ["4G", "4g", "512m", "512M", "1048576k", "6144K", "6m", "16G"])
def test_good_memory_sizes_reach_the_executor(memory: str) -> None:
    exec_args = run_program("single", {"memory": memory}).named("exec").inputs["taskSpec"]["containerSpec"]["args"]
    assert exec_args == ["-e", "master", memory]


def test_host_names_are_accepted_and_not_checked_against_cidrs() -> None:
    hosts = [
        {"name": "m1", "address": "manager.lab.example", "role": "manager", "sshUser": "admin", "sshPort": 2222},
        {"name": "w1", "address": "10.20.0.99", "role": "worker"},
    ]
    deployment = run_program("multi", {"hosts": hosts})
    assert [n["address"] for n in deployment.outputs["nodes"]] == ["manager.lab.example", "10.20.0.99"]


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
    assert {p.rsplit("/", 1)[0] for p in multi["wipp:storage"]["paths"].values()} == {"/mnt/wipp-shared"}


def test_the_shipped_multi_stack_is_refused_until_its_placeholder_addresses_are_replaced() -> None:
    shipped = yaml.safe_load((REPO / "Pulumi.multi.yaml").read_text())["config"]
    assert all(h["address"].startswith("192.0.2.") for h in shipped["wipp:hosts"])
    with pytest.raises(pulumi.RunError) as error:
        run_program("multi", {"hosts": shipped["wipp:hosts"], "allowedSources": shipped["wipp:allowedSources"]})
    message = str(error.value)
    assert message.startswith("4 mistakes")  # three hosts and the allowed sources
    for path in ("hosts[0].address = '192.0.2.10'", "hosts[2].address = '192.0.2.12'", "allowedSources[0]"):
        assert f"wipp:{path}" in message
    assert message.count("documentation addresses (RFC 5737)") == 4
    assert "set the real addresses of the hosts" in message


@pytest.mark.parametrize(
    "overrides, path, suggestion",
    [
        ({"memmory": "8G"}, "wipp:memmory", "memory"),
        ({"webport": 8080}, "wipp:webport", "webPort"),
        ({"allowedSource": ["10.0.0.0/8"]}, "wipp:allowedSource", "allowedSources"),
        ({"storage": {"mode": "volume", "nmes": {"wippdb": "x"}}}, "wipp:storage.nmes", "names"),
        ({"storage": {"mode": "volume", "names": {"wipdb": "x"}}}, "wipp:storage.names.wipdb", "wippdb"),
        ({"hosts": [{**MANAGER, "adress": "10.0.0.9"}]}, "wipp:hosts[0].adress", "address"),
        ({"serviceArgs": {"exex": ["-e"]}}, "wipp:serviceArgs.exex", "exec"),
        ({"mountTargets": {"wippdata ": "/d"}}, "wipp:mountTargets.wippdata ", "wippdata"),
        ({"containerPorts": {"webb": 8081}}, "wipp:containerPorts.webb", "web"),
    ],
)
def test_unknown_keys_are_refused_with_the_closest_known_key(
    overrides: dict[str, Any], path: str, suggestion: str
) -> None:
    with pytest.raises(pulumi.RunError) as error:
        run_program("single", overrides)
    message = str(error.value)
    assert f"{path} is not a key this program knows" in message
    assert f"did you mean {suggestion!r}?" in message


def test_every_mistake_is_reported_at_once() -> None:
    overrides = {
        "memory": "4X",
        "webPort": 0,
        "memmory": "8G",
        "hosts": [{**MANAGER, "role": "boss", "sshPort": "ssh"}],
        "storage": {"mode": "volume", "names": {"wippdb": "bad name"}},
    }
    with pytest.raises(pulumi.RunError) as error:
        run_program("single", overrides)
    message = str(error.value)
    assert message.startswith("6 mistakes in the stack's wipp:* config:")
    for text in (
        "wipp:memory = '4X'",
        "wipp:webPort = '0'",
        "wipp:memmory is not a key",
        "wipp:hosts[0].role = 'boss'",
        "wipp:hosts[0].sshPort = 'ssh'",
        "wipp:storage.names.wippdb = 'bad name'",
    ):
        assert text in message


@pytest.mark.parametrize(
    "overrides, expected",
    [
        (
            {"storage": {"mode": "volume", "names": {"wippdb": "shared", "wippdata": "shared"}}},
            ["wipp:storage.names.wippdata = 'shared'", "a volume of its own ('shared' repeats)"],
        ),
        (
            {"serviceArgs": {"master": ["{master.x}"]}},
            ["wipp:serviceArgs.master", '["{master.x}"]', "placeholders among"],
        ),
        ({"convergeTimeout": "1m30"}, ["wipp:convergeTimeout", "'1m30'", "1m30s"]),
        ({"storage": '{"mode": "volume"'}, ["wipp:storage", "a YAML object or list"]),
    ],
)
def test_mistakes_that_used_to_pass_or_crash(overrides: dict[str, Any], expected: list[str]) -> None:
    with pytest.raises(pulumi.RunError) as error:
        run_program("single", overrides)
    for text in expected:
        assert text in str(error.value)


def test_a_loopback_address_is_refused_when_other_hosts_must_reach_it() -> None:
    hosts = [
        {"name": "m", "address": "127.0.0.1", "role": "manager", "local": True},
        {"name": "w", "address": "10.20.0.11", "role": "worker"},
    ]
    with pytest.raises(pulumi.RunError) as error:
        run_program("multi", {"hosts": hosts})
    assert "wipp:hosts[0].address = '127.0.0.1'" in str(error.value) and "loopback" in str(error.value)


@pytest.mark.parametrize(("duration", "seconds"), [("1m30s", "90"), ("500ms", "1"), ("2h", "7200"), ("45s", "45")])
def test_go_durations_reach_the_services(duration: str, seconds: str) -> None:
    overrides = {"convergeInterval": "100ms", "convergeTimeout": duration}
    wait = run_program("single", overrides).named("mongodb-running").inputs["create"]
    assert script_variables(wait)["TIMEOUT_S"] == seconds


def test_checks_within_a_key_come_with_every_other_mistake() -> None:
    overrides = {
        "memory": "lots",
        "webPort": 2377,
        "hosts": [MANAGER, {**MANAGER, "local": False, "address": "10.0.0.9"}],
        "storage": {"mode": "volume", "names": {"wippdb": "same", "wippdata": "same"}},
    }
    with pytest.raises(pulumi.RunError) as error:
        run_program("single", overrides)
    message = str(error.value)
    assert message.startswith("4 mistakes")
    for text in (
        "wipp:memory = 'lots'",
        "wipp:webPort = 2377 is invalid: expected a port not used by Docker Swarm",
        "'m1' repeats",
        "a volume of its own ('same' repeats)",
    ):
        assert text in message


def test_checks_between_keys_come_with_the_keys_own_mistakes() -> None:
    overrides = {
        "memory": "lots",
        "webPort": 15005,  # the same as dashboardPort
        "endpointMode": "dnsrr",  # with publishMode ingress
        "allowedSources": ["10.0.0.0/8"],
        "manageFirewall": False,
        "hosts": [MANAGER, {"name": "w1", "address": "10.0.0.9", "role": "worker"}],  # no hostKey, no SSH key
        "storage": {"mode": "bind", "paths": BIND_PATHS},
    }
    with pytest.raises(pulumi.RunError) as error:
        run_program("single", overrides, fill_host_keys=False)
    message = str(error.value)
    for text in (
        "wipp:memory = 'lots'",
        "wipp:dashboardPort = 15005 is invalid: expected a port different from wipp:webPort (15005)",
        "wipp:endpointMode = 'dnsrr'",
        "wipp:allowedSources",
        "wipp:hosts[1].hostKey is missing",
        "wipp:sshPrivateKey is missing",
    ):
        assert text in message
    assert message.startswith("6 mistakes")


# Every kind of string the stack file holds, as (key path in the error, overrides putting `text` there).
STRING_FIELDS: list[tuple[str, Any]] = [
    ("version", lambda text: {"version": text}),
    ("mongoImage", lambda text: {"mongoImage": text}),
    ("imageRegistry", lambda text: {"imageRegistry": text}),
    ("registryUser", lambda text: {"registryUser": text, "registryPassword": "pw"}),
    ("memory", lambda text: {"memory": text}),
    ("network", lambda text: {"network": text}),
    ("publishMode", lambda text: {"publishMode": text}),
    ("endpointMode", lambda text: {"endpointMode": text}),
    ("convergeInterval", lambda text: {"convergeInterval": text}),
    ("convergeTimeout", lambda text: {"convergeTimeout": text}),
    ("dockerHost", lambda text: {"dockerHost": text}),
    ("bindAddress", lambda text: {"bindAddress": text}),
    ("manageFirewall", lambda text: {"manageFirewall": text}),
    ("webPort", lambda text: {"webPort": text}),
    ("allowedSources[0]", lambda text: {"allowedSources": [text]}),
    ("hosts[0].name", lambda text: {"hosts": [{**MANAGER, "name": text}]}),
    ("hosts[0].address", lambda text: {"hosts": [{**MANAGER, "address": text}]}),
    ("hosts[0].role", lambda text: {"hosts": [{**MANAGER, "role": text}]}),
    ("hosts[0].sshUser", lambda text: {"hosts": [{**MANAGER, "sshUser": text}]}),
    ("hosts[0].hostKey", lambda text: {"hosts": [{**MANAGER, "hostKey": text}]}),
    ("storage.mode", lambda text: {"storage": {"mode": text}}),
    ("storage.names.wippdb", lambda text: {"storage": {"mode": "volume", "names": {"wippdb": text}}}),
    ("storage.paths.wippdb", lambda text: {"storage": {"mode": "bind", "paths": {**BIND_PATHS, "wippdb": text}}}),
    ("serviceArgs.exec[1]", lambda text: {"serviceArgs": {"exec": ["-e", text]}}),
    ("mountTargets.wippdb", lambda text: {"mountTargets": {"wippdb": text}}),
]
# A value of each field's form, so the control character is the only thing wrong.
GOOD_TEXT = {
    "version": "2.2.0", "mongoImage": "mongo:3.4", "imageRegistry": "registry.lab:5000", "registryUser": "lab",
    "memory": "4G", "network": "wippnet", "publishMode": "ingress",
    "endpointMode": "vip", "convergeInterval": "1s", "convergeTimeout": "20m", "dockerHost": "unix:///run/d.sock",
    "bindAddress": "127.0.0.1", "manageFirewall": "true", "webPort": "18080", "allowedSources[0]": "10.0.0.0/24",
    "hosts[0].name": "m1", "hosts[0].address": "10.0.0.1", "hosts[0].role": "manager", "hosts[0].sshUser": "ubuntu",
    "hosts[0].hostKey": fake_host_key("10.0.0.1"), "storage.mode": "volume", "storage.names.wippdb": "wippdbvolume",
    "storage.paths.wippdb": "/srv/w/db", "serviceArgs.exec[1]": "{master}", "mountTargets.wippdb": "/data/db",
}  # fmt: skip


@pytest.mark.parametrize("control", ["\n", "\r", "\t", "\x00", "\x1b", "\u2028"], ids=repr)
@pytest.mark.parametrize("path, overrides", STRING_FIELDS, ids=[path for path, _ in STRING_FIELDS])
def test_no_string_takes_a_trailing_newline_or_any_control_character(path: str, overrides: Any, control: str) -> None:
    good = GOOD_TEXT[path]
    run_program("single", overrides(good))  # the same value without the control character is accepted
    with pytest.raises(pulumi.RunError) as error:
        run_program("single", overrides(good + control))
    message = str(error.value)
    assert f"wipp:{path} = {good + control!r} is invalid: expected " in message
    assert f"(no control character such as {control!r})" in message


DOCUMENTATION_ADDRESSES = "documentation addresses (RFC 5737)"
# (test id, stack, overrides, text the error must contain): the checks between keys and Docker's own rules.
REFUSED_BY_DOCKER_OR_ANOTHER_KEY: list[tuple[str, str, dict[str, Any], list[str]]] = [
    *[
        (f"host-address-{address}", "multi", {"hosts": [{"name": "m", "address": address, "role": "manager"}]},
         [f"wipp:hosts[0].address = '{address}'", DOCUMENTATION_ADDRESSES, "set the real addresses of the hosts"])
        for address in ("192.0.2.10", "198.51.100.7", "203.0.113.254")
    ],
    *[
        (f"allowed-source-{cidr}", "single", {"allowedSources": ["10.0.0.0/8", cidr]},
         [f"wipp:allowedSources[1] = '{cidr}'", f"overlaps {overlapped}", "set the real addresses of the hosts"])
        for cidr, overlapped in (("192.0.2.128/25", "192.0.2.0/24"), ("198.51.0.0/16", "198.51.100.0/24"),
                                 ("203.0.113.9/32", "203.0.113.0/24"))
    ],
    ("mongo-user-with-volumes", "single", {"mongoUser": "1000:1000"},
     ["wipp:mongoUser = '1000:1000'", "empty with named volumes (wipp:storage mode volume)"]),
    ("bind-address-documentation", "personal", {"bindAddress": "192.0.2.1"},
     ["wipp:bindAddress = '192.0.2.1'", DOCUMENTATION_ADDRESSES]),
    *[
        (f"host-address-{address}", "single", {"hosts": [{**MANAGER, "address": address}]},
         [f"wipp:hosts[0].address = '{address}'", "the address of one host", "swarm init refuses it"])
        for address in ("0.0.0.0", "224.0.0.1", "255.255.255.255")
    ],
    *[
        (f"network-reserved-{name}", "single", {"network": name},
         [f"wipp:network = '{name}'", f"Docker keeps '{name}' for itself"])
        for name in ("bridge", "host", "none", "default", "ingress", "docker_gwbridge")
    ],
    *[
        (f"network-swarm-refuses-{index}", "single", {"network": name},
         [f"wipp:network = '{name}'", "a swarm network name: up to 63 letters and digits"])
        for index, name in enumerate(["wipp.net", "wippnet-", "_wippnet", "w" * 64])
    ],
    *[
        (f"volume-name-{index}", "single", {"storage": {"mode": "volume", "names": {"pegasusdb": name}}},
         [f"wipp:storage.names.pegasusdb = '{name}'", "a Docker volume name: 2 to 255"])
        for index, name in enumerate(["v", "-vol", "vol/x", "v" * 256])
    ],
    *[
        (f"memory-below-docker-{size}", "single", {"memory": size},
         [f"wipp:memory = '{size}'", "a size from 6m, the least memory Docker gives a container"])
        for size in ("5m", "6143k", "64K", "8589934592G")
    ],
    *[
        (f"web-port-{port}", "single", {"webPort": port}, ["wipp:webPort", "a TCP port number from 1 to 65535"])
        for port in ("08080", True, "true", 8080.0, " 8080", "+8080")
    ],
    *[
        (f"flag-{flag}", "single", {"strictPreflight": flag}, ["wipp:strictPreflight", "true or false"])
        for flag in ("yes", "1", "on", 1)
    ],
    ("published-port-is-ssh", "multi", {"webPort": 22},
     ["wipp:webPort = 22", "a port other than wipp-manager's SSH port (22)", "takes SSH from the host"]),
    ("dashboard-port-is-a-workers-ssh", "multi",
     {"hosts": [{"name": "m", "address": "10.0.0.1", "role": "manager"},
                {"name": "w", "address": "10.0.0.2", "role": "worker", "sshPort": 2222}], "dashboardPort": 2222},
     ["wipp:dashboardPort = 2222", "a port other than w's SSH port (2222)"]),
    ("dashboard-port-is-swarm-gossip", "single", {"dashboardPort": 7946},
     ["wipp:dashboardPort = 7946", "a port not used by Docker Swarm (7946 is swarm gossip)"]),
    ("web-port-is-vxlan", "single", {"webPort": 4789}, ["wipp:webPort = 4789", "4789 is overlay VXLAN"]),
    ("duplicate-dns-name-any-case", "multi",
     {"hosts": [{"name": "m", "address": "m.lab.example", "role": "manager"},
                {"name": "w", "address": "M.Lab.Example", "role": "worker"}]},
     ["wipp:hosts[1].address = 'M.Lab.Example'", "a unique address per host"]),
    ("names-with-bind", "multi", {"storage": {"mode": "bind", "paths": BIND_PATHS, "names": {"wippdb": "db"}}},
     ["wipp:storage.names", "no names with mode: bind"]),
    ("paths-with-volume", "single", {"storage": {"mode": "volume", "paths": BIND_PATHS}},
     ["wipp:storage.paths", "no folders with mode: volume"]),
    ("mount-targets-same-in-one-service", "single", {"mountTargets": {"pegasusdb": "/data/WIPP"}},
     ["wipp:mountTargets.pegasusdb = '/data/WIPP'", "a target no other mount of the service has"]),
    *[
        (f"mount-target-root-{index}", "single", {"mountTargets": {"wippdb": target}},
         [f"wipp:mountTargets.wippdb = '{target}'", "an absolute path in the container other than /"])
        for index, target in enumerate(["/", "//", "/."])
    ],
    ("container-ports-equal", "single", {"containerPorts": {"web": 5005}},
     ["wipp:containerPorts.dashboard = 5005", "its own port (5005 repeats)"]),
    ("converge-timeout-not-longer", "single", {"convergeInterval": "30s", "convergeTimeout": "30s"},
     ["wipp:convergeTimeout = '30s'", "longer than wipp:convergeInterval (30s)"]),
    ("converge-timeout-past-go", "single", {"convergeTimeout": "2562048h"},  # Go's durations: int64 nanoseconds
     ["wipp:convergeTimeout = '2562048h'", "a positive duration of whole numbers"]),
    ("image-uppercase-repository", "single", {"mongoImage": "library/Mongo:3.4"},
     ["wipp:mongoImage = 'library/Mongo:3.4'", "image reference"]),
    ("image-name-too-long", "single", {"mongoImage": "a" * 256 + ":3.4"}, ["wipp:mongoImage", "image reference"]),
    ("version-too-long", "single", {"version": "v" * 129}, ["wipp:version", "up to 128"]),
    ("host-name-too-long", "single", {"hosts": [{**MANAGER, "name": "h" * 64}]}, ["wipp:hosts[0].name", "a name of"]),
]  # fmt: skip


@pytest.mark.parametrize(
    "stack, overrides, expected",
    [
        pytest.param(stack, ov, expected, id=test_id)
        for test_id, stack, ov, expected in REFUSED_BY_DOCKER_OR_ANOTHER_KEY
    ],
)
def test_what_docker_or_another_key_refuses_is_refused_at_preview(
    stack: str, overrides: dict[str, Any], expected: list[str]
) -> None:
    with pytest.raises(pulumi.RunError) as error:
        run_program(stack, overrides)
    for text in expected:
        assert text in str(error.value)


@pytest.mark.parametrize(
    "overrides",
    [
        {"mongoImage": "registry.example.com:5000/team/mongo:3.4"},
        {"mongoImage": "Registry.Example.com/mongo__db/mongo--x@sha256:" + "a" * 64},
        {"network": "wipp_net-2"},
        {"storage": {"mode": "volume", "names": {"wippdb": "db"}}},
        {"webPort": 8443, "publishMode": "host", "endpointMode": "dnsrr"},
        {"hosts": [{**MANAGER, "address": "manager.lab.example"}]},
    ],
)
def test_values_docker_takes_are_accepted(overrides: dict[str, Any]) -> None:
    assert run_program("single", overrides).resources


def test_a_missing_host_key_does_not_hide_the_checks_that_read_the_hosts() -> None:
    hosts = [MANAGER, {"name": "w1", "address": "10.0.0.9", "role": "worker"}]
    with pytest.raises(pulumi.RunError) as error:
        run_program("single", {"hosts": hosts, "bindAddress": "127.0.0.1"}, fill_host_keys=False)
    message = str(error.value)
    assert "wipp:hosts[1].hostKey is missing" in message and "ssh-keyscan -t ed25519 -p 22 10.0.0.9" in message
    assert "wipp:sshPrivateKey is missing" in message and "reached over SSH" in message
    assert "wipp:storage = " in message and "bind with shared folders" in message
    assert "wipp:bindAddress = '127.0.0.1'" in message and "one address binds the ports on one machine" in message


def test_a_registry_password_in_plain_text_is_refused() -> None:
    with pytest.raises(pulumi.RunError) as error:
        run_program("single", {"registryUser": "lab", "registryPassword": "pw"}, secret_keys=())
    message = str(error.value)
    assert message.startswith("config wipp:registryPassword = '(plain text, not shown)' is invalid: expected a secret")
    assert "pulumi config set --secret wipp:registryPassword" in message and "pw" not in message


def test_every_key_of_the_model_is_in_the_readme_configuration_reference() -> None:
    reference = (REPO / "README.md").read_text().split("## Configuration reference")[1].split("\n## ")[0]
    documented = set(re.findall(r"^\| `([A-Za-z]+)` \|", reference, re.MULTILINE))
    assert documented == {field.alias for field in Settings.model_fields.values()}


@pytest.mark.parametrize(
    "pool, expected",
    [
        ("10.128.0.0", ["wipp:swarmAddressPool = '10.128.0.0' is invalid", "an IPv4 network for the swarm's overlay"]),
        ("10.128.0.1/16", ["wipp:swarmAddressPool = '10.128.0.1/16'", "has host bits set"]),
        ("10.128.0.0/16:30", ["wipp:swarmAddressPool = '10.128.0.0/16:30'", "from its own /16 to 29"]),
        ("10.128.0.0/24:16", ["wipp:swarmAddressPool = '10.128.0.0/24:16'", "from its own /24 to 29"]),
        ("10.128.0.0/25", ["wipp:swarmAddressPool = '10.128.0.0/25'", "from its own /25 to 29"]),  # 24 by default
        ("fd00::/64", ["wipp:swarmAddressPool = 'fd00::/64'", "an IPv4 network"]),
        # The multi stack's hosts are 10.20.0.10-12 and its allowedSources 10.20.0.0/24.
        ("10.0.0.0/8", ["wipp:swarmAddressPool = '10.0.0.0/8'", "apart from every host's address",
                        "10.20.0.10, 10.20.0.11, 10.20.0.12, 10.20.0.0/24 in it"]),
        ("10.20.0.128/25:28", ["wipp:swarmAddressPool = '10.20.0.128/25:28'", "(10.20.0.0/24 in it)"]),
    ],
)  # fmt: skip
def test_a_swarm_address_pool_over_a_host_or_a_source_or_not_dockers_form_is_refused(
    pool: str, expected: list[str]
) -> None:
    with pytest.raises(pulumi.RunError) as error:
        run_program("multi", {"swarmAddressPool": pool})
    assert_mentions(str(error.value), expected)


def test_a_swarm_address_pool_reaches_the_swarms_init_and_none_keeps_dockers() -> None:
    def pool(overrides: dict[str, Any]) -> str:
        init = run_program("multi", overrides).named("swarm-init-wipp-manager").inputs["create"]
        return script_variables(init)["ADDRESS_POOL"]

    assert pool({}) == ""
    assert pool({"swarmAddressPool": "172.30.0.0/16"}) == "172.30.0.0/16"
    assert pool({"swarmAddressPool": "10.128.0.0/16:29"}) == "10.128.0.0/16:29"
    named = [{"name": "wipp-manager", "address": "manager.lab.example", "role": "manager"}]  # a name: not resolved
    assert pool({"hosts": named, "allowedSources": [], "swarmAddressPool": "10.0.0.0/8"}) == "10.0.0.0/8"


def written(stack: str, *lines: str) -> str:
    """`stack`'s shipped stack file with `lines` added under `config:`, as a user types them."""
    return (REPO / f"Pulumi.{stack}.yaml").read_text() + "".join(f"  {line}\n" for line in lines)


# What the Pulumi CLI 3.259 hands the program for a plain scalar of the stack file, measured (a preview
# of a program that prints pulumi.Config("wipp").get(key)): go-yaml's numbers, as Go writes them back.
# Quoted ('2.10'), or set with `pulumi config set` (which writes "2.10"), the text arrives as written.
CLI_HANDS = {"2.10": "2.1", "2.2": "2.2", "2": "2", "3.40": "3.4", "0x10": "16", "010": "8", "1e3": "1000",
             "1_000": "1000", "0o17": "15"}  # fmt: skip
# (test id, stack, overrides: the value as the CLI hands it, the machine, text the error must contain):
# what only the stack file as written, or the machine pulumi runs on, shows.
REFUSED_ON_THIS_MACHINE: list[tuple[str, str, dict[str, Any], FakeMachine, list[str]]] = [
    *[
        (f"version-unquoted-{number}", "single", {"version": CLI_HANDS[number]},
         FakeMachine(stack_file=written("single", f"wipp:version: {number}")),
         [f"config wipp:version = {CLI_HANDS[number]} is invalid: expected the value in quotes, wipp:version: "
          f"'{number}' in Pulumi.single.yaml (unquoted, YAML reads {number} as the number {CLI_HANDS[number]})"])
        for number in ("2.10", "2.2", "2", "010")
    ],
    *[
        (f"unquoted-{key}-{number}", "single", {key: CLI_HANDS[number], **more},
         FakeMachine(stack_file=written("single", f"wipp:{key}: {number}")),
         [f"config wipp:{key} = {CLI_HANDS[number]} is invalid: expected the value in quotes, wipp:{key}: '{number}'",
          f"YAML reads {number} as the number {CLI_HANDS[number]}"])
        for key, number, more in (("mongoImage", "3.40", {}), ("network", "0x10", {}),
                                  ("registryUser", "1e3", {"registryPassword": "pw"}), ("mongoImage", "1_000", {}),
                                  ("network", "0o17", {}))
    ],
    ("host-name-does-not-resolve", "multi",
     {"hosts": [{"name": "m", "address": "10.20.0.10", "role": "manager"},
                {"name": "w1", "address": "wrker-1.lab.example", "role": "worker"}], "allowedSources": []},
     FakeMachine(unresolved=frozenset({"wrker-1.lab.example"})),
     ["config wipp:hosts[1].address = 'wrker-1.lab.example' is invalid: expected a host name this machine resolves",
      "does not resolve here within 5 s", "neither SSH nor Docker would reach w1",
      "add it to DNS or to this machine's /etc/hosts, or write the host's IPv4 address"]),
    ("local-host-not-this-machine", "single", {"hosts": [{**MANAGER, "address": "10.0.0.71"}]},
     FakeMachine(local_addresses=frozenset({"127.0.0.1", "10.0.0.7"})),
     ["config wipp:hosts[0].address = '10.0.0.71' is invalid: expected an address of this machine",
      "local: true runs m1's commands here", "10.0.0.71, none of this machine's addresses", "ip -4 addr",
      "set this machine's own address, or set local: false"]),
    ("local-host-name-not-this-machine", "single", {"hosts": [{**MANAGER, "address": "wipp.lab.example"}]},
     FakeMachine(local_addresses=frozenset({"127.0.0.1"})),
     ["wipp:hosts[0].address = 'wipp.lab.example'", f"wipp.lab.example resolves to {FakeMachine.RESOLVED}, none of"]),
    ("bind-address-not-this-machine", "personal", {"bindAddress": "10.0.0.71"},
     FakeMachine(local_addresses=frozenset({"127.0.0.1"})),
     ["config wipp:bindAddress = '10.0.0.71' is invalid: expected an address of this machine, where the ports are "
      "published (10.0.0.71 is none of its addresses"]),
    ("local-host-name-does-not-resolve", "single", {"hosts": [{**MANAGER, "address": "wipp.lab.example"}]},
     FakeMachine(unresolved=frozenset({"wipp.lab.example"}), local_addresses=frozenset({"127.0.0.1"})),
     ["wipp:hosts[0].address = 'wipp.lab.example' is invalid: expected a host name this machine resolves"]),
]  # fmt: skip


@pytest.mark.parametrize(
    "stack, overrides, machine, expected",
    [pytest.param(*case[1:], id=case[0]) for case in REFUSED_ON_THIS_MACHINE],
)
def test_what_the_stack_file_as_written_or_this_machine_refuses_is_refused_at_preview(
    stack: str, overrides: dict[str, Any], machine: FakeMachine, expected: list[str]
) -> None:
    with pytest.raises(pulumi.RunError) as error:
        run_program(stack, overrides, machine=machine)
    assert_mentions(str(error.value), expected)
    assert str(error.value).startswith("config wipp:")  # one mistake: no other check was misled


@pytest.mark.parametrize(
    "line, handed",
    [
        ("wipp:version: '2.10'", "2.10"),  # quoted, as the README asks
        ('wipp:version: "2.10"', "2.10"),  # as `pulumi config set wipp:version 2.10` writes it
        ("wipp:version: 2.2.0", "2.2.0"),  # not a number to YAML
        ("wipp:version: 2.2.0", "2.3.0"),  # the CLI's value from elsewhere (--config-file): not this file's number
        ("wipp:webPort: 8080", "8080"),  # a number key may be a number
        ("wipp:manageFirewall: true", "true"),
        ("wipp:mongoUser: 1000:50", "1000:50"),  # a number to YAML 1.1 (base 60), text to the CLI's YAML
    ],
)
def test_a_text_key_in_quotes_or_not_read_as_a_number_is_taken_as_written(line: str, handed: str) -> None:
    key = line.split(":")[1]
    stack = "multi" if key == "mongoUser" else "single"  # a mongoUser only with shared folders
    deployment = run_program(stack, {key: handed}, machine=FakeMachine(stack_file=written(stack, line)))
    if key == "version":
        assert deployment.outputs["images"]["wipp"].startswith(f"wipp/wipp:{handed}@sha256:")


def test_a_version_from_the_environment_is_not_in_the_stack_file_and_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    # PULUMI_CONFIG_WIPP_VERSION: the program reads it (pulumi.Config), and the stack file says nothing about it.
    monkeypatch.setenv("PULUMI_CONFIG_WIPP_VERSION", "2.10")
    deployment = run_program("single", {"version": DELETE}, machine=FakeMachine(stack_file=written("single")))
    assert deployment.outputs["images"]["wipp"].startswith("wipp/wipp:2.10@sha256:")


def test_a_value_refused_anyway_is_not_also_told_to_be_quoted() -> None:
    # memory: 4096 in quotes would still lack its unit: its own mistake alone is reported.
    with pytest.raises(pulumi.RunError) as error:
        run_program(
            "single", {"memory": "4096"}, machine=FakeMachine(stack_file=written("single", "wipp:memory: 4096"))
        )
    message = str(error.value)
    assert message.startswith("config wipp:memory = '4096' is invalid: expected a whole positive size")
    assert "in quotes" not in message


def test_the_machines_refusals_come_with_every_other_mistake() -> None:
    hosts = [{**MANAGER, "address": "10.0.0.71"}, {"name": "w1", "address": "wrker-1.lab.example", "role": "worker"}]
    machine = FakeMachine(
        stack_file=written("multi", "wipp:version: 2.10"),
        unresolved=frozenset({"wrker-1.lab.example"}),
        local_addresses=frozenset({"127.0.0.1"}),
    )
    with pytest.raises(pulumi.RunError) as error:
        run_program("multi", {"hosts": hosts, "version": "2.1", "memory": "4X", "allowedSources": []}, machine=machine)
    message = str(error.value)
    assert message.startswith("4 mistakes in the stack's wipp:* config:")
    for text in (
        "wipp:memory = '4X'",
        "wipp:version = 2.1",
        "wipp:hosts[0].address = '10.0.0.71'",
        "wipp:hosts[1].address = 'wrker-1.lab.example'",
    ):
        assert text in message


def test_a_local_host_with_a_remote_docker_host_is_not_checked_against_this_machine() -> None:
    # The engine (and its swarm's listen address) is where wipp:dockerHost points, not here.
    machine = FakeMachine(local_addresses=frozenset({"127.0.0.1"}))
    overrides = {"hosts": [{**MANAGER, "address": "10.0.0.71"}]}
    with pytest.raises(pulumi.RunError):
        run_program("single", overrides, machine=machine)
    remote = run_program("single", {**overrides, "dockerHost": "tcp://10.0.0.71:2375"}, machine=machine)
    assert remote.outputs["managerAddress"] == "10.0.0.71"
