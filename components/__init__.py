"""Pulumi components that deploy NIST's WIPP 2.2.0 on Docker Swarm."""
