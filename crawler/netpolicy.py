"""Which URLs Newswatch may fetch or post to.

Only http and https, and only public addresses unless the host or its address is listed in
``network.allow`` (hosts, IPs or CIDRs). Checked after DNS resolution, for every address a name
resolves to, so a public-looking name that points at 127.0.0.1 or the cloud metadata address is
refused too. Spiders check every hop (redirects included); the webhook channel checks its target.

A check before the request is not enough on its own: the name is resolved again when the
connection is made, and a hostile DNS server can answer a public address the first time and
127.0.0.1 the second (DNS rebinding). ``spiders/resolver.py`` therefore applies
:func:`address_allowed` to the very addresses Scrapy connects to.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from .errors import PolicyError

ALLOWED_SCHEMES = ("http", "https")


class Allowlist:
    """Hosts and networks that may be fetched although they are not public."""

    def __init__(self, entries: Iterable[str] = ()):
        self.hosts: set[str] = set()
        self.networks: list[ipaddress._BaseNetwork] = []
        for entry in entries:
            entry = entry.strip().lower()
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.hosts.add(entry.rstrip("."))

    def allows(self, host: str, addr: ipaddress._BaseAddress | None = None) -> bool:
        if host.lower().rstrip(".") in self.hosts:
            return True
        return addr is not None and any(addr in net for net in self.networks)


def _is_public(addr: ipaddress._BaseAddress) -> bool:
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_global and not addr.is_multicast


def address_allowed(host: str, addr: ipaddress._BaseAddress | str, allow: Allowlist | Sequence[str] = ()) -> bool:
    """May a connection for ``host`` go to ``addr``? Public addresses always; others only when
    the host or the address is in the allowlist."""
    if not isinstance(allow, Allowlist):
        allow = Allowlist(allow)
    if isinstance(addr, str):
        addr = ipaddress.ip_address(addr.split("%", 1)[0])
    return _is_public(addr) or allow.allows(host, addr)


def resolve(host: str) -> list[ipaddress._BaseAddress]:
    """Every address ``host`` resolves to. getaddrinfo also normalises spellings such as
    ``2130706433``, ``0x7f.1`` and ``127.1`` to the address the kernel would connect to."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise OSError(f"cannot resolve {host!r}: {exc}") from exc
    out = []
    for info in infos:
        ip = info[4][0].split("%", 1)[0]
        out.append(ipaddress.ip_address(ip))
    return out


def check_url(url: str, allow: Allowlist | Sequence[str] = (), *, source_id: str | None = None) -> None:
    """Raise PolicyError unless ``url`` may be fetched. Resolution failures are not policy
    errors: they surface as ordinary fetch errors when the request is made."""
    if not isinstance(allow, Allowlist):
        allow = Allowlist(allow)
    parts = urlsplit(url)
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise PolicyError(f"scheme {parts.scheme or '(none)'!r} is not allowed (http and https only)",
                          source_id=source_id, url=url)
    host = parts.hostname
    if not host:
        raise PolicyError("URL has no host", source_id=source_id, url=url)
    if allow.allows(host):
        return
    try:
        addrs = resolve(host)
    except OSError:
        return
    for addr in addrs:
        if not _is_public(addr) and not allow.allows(host, addr):
            raise PolicyError(
                f"address {addr} of {host} is not public; add it to network.allow to fetch it",
                source_id=source_id, url=url)
