"""The SAM CLI, with every container it creates on the host's network.

Used only by scripts/sam-local-test, on machines whose Docker has no bridge network
(dockerd --bridge=none): no container can publish a port there, and nothing but loopback
is reached. An ordinary Docker needs none of this (README, "Run it under SAM locally").

Why a launcher: SAM publishes the Runtime Interface Emulator's port 8080 on a free
loopback port of the host and sends each invocation there; that needs a bridge. Its
`--docker-network host` does not help: SAM 1.170 skips connecting the container to that
network but still creates it on the default one with the port published
(samcli/local/docker/container.py, `Container.create`). So this wraps the one call that
creates containers, docker-py's `ContainerCollection.create`, which SAM's own Docker
client uses: the container gets `network_mode="host"` and no published ports, and the
emulator is told to listen on exactly the loopback port SAM will call. Its Runtime API,
which the function polls, gets a free loopback port of its own, so concurrent containers
(`sam local start-api` starts one per request) never collide on the default 9001.

It depends on SAM's internals (the RIE flags SAM's entry point takes, the shape of the
`ports` argument), hence the pinned version below: scripts/sam-local-test installs exactly
it, and a different one stops here rather than misbehaving.

Usage: python sam_host_network.py <sam arguments>   (the venv's python with aws-sam-cli)
"""

import socket
import sys

import docker.models.containers
import samcli
from samcli.cli.main import cli
from samcli.local.docker.container import Container

PINNED_SAM = "1.170.0"

if samcli.__version__ != PINNED_SAM:
    sys.exit(
        f"sam_host_network.py: written for SAM {PINNED_SAM}, found {samcli.__version__}; "
        "check samcli/local/docker/container.py (Container.create) before changing the pin"
    )

_create = docker.models.containers.ContainerCollection.create


def _free_loopback_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _create_on_host_network(self, image, command=None, **kwargs):
    ports = dict(kwargs.pop("ports", None) or {})
    # SAM passes {"8080": ("127.0.0.1", <host port>)}: the host port is where it will send
    # the invocation (http://localhost:<host port>/2015-03-31/functions/function/invocations).
    published = ports.pop(Container.RAPID_PORT_CONTAINER, None)
    if ports:
        # Debugger ports (`--debug-port`) would need the same treatment; nothing uses them.
        raise SystemExit(f"sam_host_network.py: unexpected published ports {sorted(ports)}")
    if published is not None:
        interface, host_port = published
        entrypoint = list(kwargs.get("entrypoint") or [])
        if not entrypoint or not entrypoint[0].endswith("aws-lambda-rie"):
            raise SystemExit(f"sam_host_network.py: unexpected entry point {entrypoint}")
        # Flags go before the function's command (the container's cmd), which follows the
        # entry point.
        kwargs["entrypoint"] = entrypoint + [
            "--runtime-interface-emulator-address",
            f"{interface}:{host_port}",
            "--runtime-api-address",
            f"127.0.0.1:{_free_loopback_port()}",
        ]
    kwargs["network_mode"] = "host"
    return _create(self, image, command, **kwargs)


docker.models.containers.ContainerCollection.create = _create_on_host_network

if __name__ == "__main__":
    sys.argv[0] = "sam"
    sys.exit(cli())
