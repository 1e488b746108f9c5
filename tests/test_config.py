"""Config validation: every bad value stops the program with the key, the value and the form."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
import yaml
from harness import DELETE, REPO, Deployment, fake_host_key, run_program, stack_config

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


@pytest.mark.parametrize("duration", ["1m30s", "500ms", "2h", "45s"])
def test_go_durations_reach_the_services(duration: str) -> None:
    mongodb = run_program("single", {"convergeInterval": "100ms", "convergeTimeout": duration}).named("mongodb")
    assert mongodb.inputs["convergeConfig"]["timeout"] == duration


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
