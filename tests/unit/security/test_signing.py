from __future__ import annotations

from reelforge.security.signing import UrlSigner

SECRET = "s" * 40


def test_a_signed_resource_verifies_until_it_expires() -> None:
    now = [1000.0]
    signer = UrlSigner(SECRET, clock=lambda: now[0])
    expires, sig = signer.sign("/renders/1/video", ttl_s=60)
    assert expires == 1060 and signer.verify("/renders/1/video", expires, sig)
    assert not signer.verify("/renders/2/video", expires, sig)  # bound to the resource
    assert not signer.verify("/renders/1/video", expires + 1, sig)  # and to the expiry
    assert not UrlSigner("t" * 40, clock=lambda: now[0]).verify("/renders/1/video", expires, sig)
    now[0] = 1061.0
    assert not signer.verify("/renders/1/video", expires, sig)
