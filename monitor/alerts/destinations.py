"""Where a webhook or Slack message may go: only to public addresses, unless the operator allows
a network (ALERTS_WEBHOOK_ALLOWED_NETWORKS).

A channel's URL is chosen by a project admin, and any signed-in user can make a project: without
this check the server would POST to its own loopback, the private network it runs in or a cloud
metadata service (169.254.169.254), and show the answer's first words in the delivery log. The
host is resolved once; every address it resolves to must be allowed, and the message is sent to
that address (the URL's host stays the Host header and, over https, the name the certificate is
checked against), so that a second lookup cannot answer otherwise.
"""

import ipaddress
import socket
from dataclasses import dataclass

import httpx
from django.conf import settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(Exception):
    """The URL's host is, or resolves to, an address messages may not go to."""


class Unresolved(Exception):
    """The URL's host does not resolve right now (retried like a network error)."""


@dataclass(frozen=True)
class Destination:
    url: httpx.URL  # the channel's URL with its host replaced by the address
    host: str  # the URL's host: the name the TLS certificate is checked against
    host_header: str  # the URL's host and port, as the Host header


def _address(text: str) -> Address:
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def refusal(address: Address) -> str | None:
    """Why messages may not go to this address, or None when they may."""
    if any(address in network for network in allowed_networks()):
        return None
    if address.is_global and not address.is_multicast:
        return None
    kind = (
        "a loopback"
        if address.is_loopback
        else "a link-local"
        if address.is_link_local
        else "a private"
        if address.is_private
        else "a non-public"
    )
    return (
        f"{address} is {kind} address: messages go to public addresses only (an operator can "
        "allow a network with ALERTS_WEBHOOK_ALLOWED_NETWORKS)"
    )


def allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(n, strict=False) for n in settings.ALERTS_WEBHOOK_ALLOWED_NETWORKS]


def literal_refusal(url: str) -> str | None:
    """Why a URL is refused before any lookup: its host is an address not allowed, or
    `localhost`. None for a name (checked when a message is sent)."""
    host = httpx.URL(url).host
    if host.lower().rstrip(".") == "localhost" or host.lower().endswith(".localhost"):
        return refusal(ipaddress.ip_address("127.0.0.1"))
    try:
        address = _address(host)
    except ValueError:
        return None
    return refusal(address)


def resolve(url: str) -> Destination:
    """The address to send to; Refused or Unresolved."""
    parsed = httpx.URL(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        found = socket.getaddrinfo(parsed.host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Unresolved(f"cannot resolve {parsed.host!r}: {exc}") from None
    addresses = list(dict.fromkeys(_address(info[4][0]) for info in found))
    for address in addresses:
        why = refusal(address)
        if why:
            raise Refused(
                f"{parsed.host} resolves to {why}" if str(address) != parsed.host else why
            )
    host_header = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
    if parsed.port is not None:
        host_header += f":{parsed.port}"
    return Destination(parsed.copy_with(host=str(addresses[0])), parsed.host, host_header)
