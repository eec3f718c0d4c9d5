"""Name resolution that enforces the network policy at connection time (closes DNS rebinding).

``NetworkPolicyMiddleware`` checks a URL before the request is queued, but Twisted resolves the
name again to connect. ``PolicyResolver`` wraps the reactor's resolver and passes on only the
addresses :func:`crawler.netpolicy.address_allowed` accepts, so whatever a DNS server answers the
second time, no connection reaches a private address that is not allow-listed. Installed through
Scrapy's ``TWISTED_DNS_RESOLVER`` setting.

When every address of a name is refused, Twisted reports "no results for hostname lookup"; the
refusal is remembered in ``REFUSED`` so the spider can report it as a policy error, not DNS.
"""

from __future__ import annotations

from twisted.internet.interfaces import IHostnameResolver, IResolutionReceiver
from zope.interface import implementer, provider

from crawler.netpolicy import Allowlist, address_allowed

# host -> reason, for the spider's error report (one crawl per process, so no growth to speak of)
REFUSED: dict[str, str] = {}


@provider(IResolutionReceiver)
class _Filter:
    def __init__(self, receiver, host: str, allow: Allowlist):
        self.receiver = receiver
        self.host = host
        self.allow = allow

    def resolutionBegan(self, resolution):
        self.receiver.resolutionBegan(resolution)

    def addressResolved(self, address):
        ip = getattr(address, "host", None)
        try:
            allowed = ip is not None and address_allowed(self.host, ip, self.allow)
        except ValueError:
            allowed = False
        if allowed:
            self.receiver.addressResolved(address)
        else:
            REFUSED[self.host.lower()] = (f"address {ip} of {self.host} is not public; add it to network.allow "
                                          f"to fetch it (refused when connecting)")

    def resolutionComplete(self):
        self.receiver.resolutionComplete()


@implementer(IHostnameResolver)
class PolicyResolver:
    def __init__(self, reactor, allow: Allowlist):
        self.reactor = reactor
        self.allow = allow
        self.original = reactor.nameResolver

    @classmethod
    def from_crawler(cls, crawler, reactor):
        return cls(reactor, Allowlist(crawler.settings.getlist("NEWSWATCH_NETWORK_ALLOW")))

    def install_on_reactor(self) -> None:
        self.reactor.installNameResolver(self)

    def resolveHostName(self, resolutionReceiver, hostName, portNumber=0, addressTypes=None,
                        transportSemantics="TCP"):
        return self.original.resolveHostName(_Filter(resolutionReceiver, hostName, self.allow), hostName,
                                             portNumber, addressTypes, transportSemantics)
