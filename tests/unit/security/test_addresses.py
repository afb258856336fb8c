"""Webhook URLs: only public http(s) destinations unless the operator allows private ones."""

from __future__ import annotations

import pytest

from reelforge.errors import InvalidInput
from reelforge.security.addresses import check_url

PRIVATE = [
    "http://127.0.0.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/",
    "http://192.168.1.5:8080/x",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://0.0.0.0/",
    "http://224.0.0.1/",
    "http://localhost/hook",
]


@pytest.mark.parametrize("url", PRIVATE)
def test_private_destinations_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput, match="public addresses only"):
        check_url(url, allow_private=False)


@pytest.mark.parametrize(
    "url", ["ftp://example.org/", "file:///etc/passwd", "example.org", "http://u:p@1.1.1.1/"]
)
def test_other_schemes_and_credentials_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput):
        check_url(url, allow_private=True)


def test_a_public_address_is_kept_with_its_path_and_query() -> None:
    destination = check_url("https://1.1.1.1:8443/hooks/in?x=1", allow_private=False)
    found = (destination.ip, destination.port, destination.target)
    assert found == ("1.1.1.1", 8443, "/hooks/in?x=1")


def test_private_addresses_pass_when_allowed() -> None:
    assert check_url("http://localhost:9/h", allow_private=True).ip in ("127.0.0.1", "::1")
