"""Where the portal's own requests may go: public addresses only, for webhooks, image URLs
and the links an upstream hands out. IPv6 transition forms of loopback and private IPv4
addresses are refused like the addresses they carry."""

from __future__ import annotations

import pytest

from portal import netguard

REFUSED = [
    "127.0.0.1",
    "10.1.2.3",
    "169.254.169.254",  # the cloud metadata service
    "100.64.0.1",  # shared address space
    "::1",
    "::",
    "fe80::1%eth0",
    "fc00::1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:10.0.0.1",
    "::127.0.0.1",  # IPv4-compatible: [::127.0.0.1] in a URL
    "::a00:1",
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b:1::a00:1",  # local-use NAT64
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "ff02::1",  # multicast
    "224.0.0.1",
]
ALLOWED = ["93.184.215.14", "2606:4700::1111", "64:ff9b::5db8:d70e", "2002:5db8:d70e::1"]


@pytest.mark.parametrize("address", REFUSED)
def test_it_refuses_loopback_private_and_their_ipv6_disguises(address):
    with pytest.raises(netguard.UnsafeUrlError):
        netguard.check_addresses("host.example", [address])


@pytest.mark.parametrize("address", ALLOWED)
def test_it_lets_public_addresses_through(address):
    netguard.check_addresses("host.example", [address])


@pytest.mark.parametrize(
    "url",
    ["http://[::127.0.0.1]/hook", "http://[64:ff9b::7f00:1]:8000/", "https://[2002:7f00:1::]/x"],
)
def test_it_refuses_urls_naming_such_addresses(url, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(netguard.UnsafeUrlError):
        netguard.check_url(url)


def test_it_refuses_a_host_when_any_of_its_addresses_is_private(settings):
    with pytest.raises(netguard.UnsafeUrlError):
        netguard.check_addresses("mixed.example", ["93.184.215.14", "64:ff9b::7f00:1"])


# --- The links an upstream hands out -------------------------------------------------------


def test_it_keeps_result_links_to_the_providers_allowed_hosts(settings, upstream):
    from tests.fakes import MP4, FakeResponse
    from videos.providers import http
    from videos.providers.errors import PermanentError

    settings.MINIMAX_RESULT_HOSTS = [".minimax-cdn.example"]
    upstream.on("/v.mp4", FakeResponse(content=MP4, headers={"Content-Type": "video/mp4"}))
    session = http.new_session()
    stream = http.open_download(
        session,
        "https://files.minimax-cdn.example/v.mp4",
        timeout=(1, 1),
        allowed_hosts=settings.MINIMAX_RESULT_HOSTS,
    )
    assert b"".join(stream.chunks) == MP4
    with pytest.raises(PermanentError) as excinfo:
        http.open_download(
            session,
            "https://evil.example/v.mp4",
            timeout=(1, 1),
            allowed_hosts=settings.MINIMAX_RESULT_HOSTS,
        )
    assert excinfo.value.code == "unsafe_url"


def test_it_checks_every_redirect_hop_of_a_result_link(settings, upstream):
    from tests.fakes import FakeResponse
    from videos.providers import http
    from videos.providers.errors import PermanentError

    settings.USEAPI_RESULT_HOSTS = ["cdn.useapi.example"]
    upstream.on(
        "/v.mp4",
        FakeResponse(status_code=302, headers={"Location": "https://elsewhere.example/v.mp4"}),
    )
    with pytest.raises(PermanentError):
        http.open_download(
            http.new_session(),
            "https://cdn.useapi.example/v.mp4",
            timeout=(1, 1),
            allowed_hosts=settings.USEAPI_RESULT_HOSTS,
        )


def test_it_cuts_a_download_that_trickles_past_its_deadline(settings):
    from videos import downloads
    from videos.providers.base import ResultStream
    from videos.providers.errors import TransientError

    settings.DOWNLOAD_MAX_SECONDS = 0

    def trickle():
        yield b"x" * 10
        yield b"y" * 10

    with pytest.raises(TransientError):
        downloads.download(ResultStream("video/mp4", None, trickle(), lambda: None))


def test_it_refuses_a_download_that_says_it_is_too_large():
    from videos import downloads
    from videos.providers.base import ResultStream

    with pytest.raises(downloads.DownloadError):
        downloads.download(
            ResultStream("video/mp4", 10**12, iter([b"x"]), lambda: None), max_bytes=1000
        )
