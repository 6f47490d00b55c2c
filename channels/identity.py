"""Who is talking, as the channels record it for the actions and the CRM.

Every message from the REST and socket.io channels carries ``metadata["shopcare_client"] = {"channel": <name>,
"address": <network address>}``, written by the server over anything the client sent under that key, so the identity
rate limits can count failures per client address. The address is the connection's peer, or the client named in
``X-Forwarded-For`` when the peer is a trusted proxy (``SOCKETIO_TRUSTED_PROXIES``: addresses or networks, comma
separated; loopback by default).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

CLIENT_KEY = "shopcare_client"
DEFAULT_TRUSTED_PROXIES = "127.0.0.0/8,::1"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_proxies(value: str | None) -> tuple[Network, ...]:
    """The networks whose ``X-Forwarded-For`` is believed; an entry that is no address fails at start."""
    entries = [item.strip() for item in (value or DEFAULT_TRUSTED_PROXIES).split(",") if item.strip()]
    try:
        return tuple(ipaddress.ip_network(item, strict=False) for item in entries)
    except ValueError as exc:
        raise ValueError(f"SOCKETIO_TRUSTED_PROXIES: {exc}") from exc


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address, trusted: Iterable[Network]) -> bool:
    return any(address.version == network.version and address in network for network in trusted)


def client_address(peer: str, forwarded_for: str | None, trusted: Iterable[Network]) -> str:
    """The client's address: ``peer`` itself, unless it is a trusted proxy; then the hops of ``X-Forwarded-For`` are
    read from the nearest, and the first one that is not a trusted proxy is the client (a hop that is no address
    stops the walk at the last trusted one)."""
    trusted = tuple(trusted)
    nearest = _ip(peer)
    if nearest is None or not forwarded_for or not _trusted(nearest, trusted):
        return peer
    for hop in reversed(forwarded_for.split(",")):
        address = _ip(hop)
        if address is None:
            break
        nearest = address
        if not _trusted(address, trusted):
            break
    return str(nearest)


def stamp_client(metadata: Mapping[str, Any] | None, channel: str, address: str | None) -> dict[str, Any]:
    """The client's metadata with the server's record of the client under ``CLIENT_KEY`` (the client's own value,
    if it sent one, is overwritten)."""
    stamped = dict(metadata or {})
    stamped[CLIENT_KEY] = {"channel": channel, "address": address}
    return stamped
