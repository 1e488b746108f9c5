"""Pulumi components that deploy NIST's WIPP 2.2.0 on Docker Swarm, one concern per file.

`__main__.py` builds them in this order: `preflight` (every host checked), `firewall` (per host),
`swarm`, then through the Docker provider `network`, `storage` and `services`. `config/` reads the
stack's settings; `wipp.py` holds NIST's fixed facts; `host_command.py` and `scripts.py` run the
shell scripts of `scripts/` on a host. No component reads the config: each gets what it uses.
"""
