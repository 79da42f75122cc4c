"""Signed links: a URL to one image's original or one of its thumbnails that works without an
API key until it expires, for an `<img>` on another site or a file handed to someone.

The signature is an HMAC-SHA256 over the image id, what is served (`content`, or `thumbnail:`
and the size exactly as the URL gives it) and the expiry (Unix seconds), so changing any of
them, or signing with another secret, makes the link `InvalidSignature`. The links carry no key
and are not tied to one: revoking the key that asked for a link does not end it; changing the
secret ends them all.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from sightline.errors import InvalidSignature, LinkExpired

CONTENT = "content"
VERSION = "sightline link v1"


def thumbnail(size: str) -> str:
    """What a thumbnail link serves; `size` as the URL's `size` parameter spells it."""
    return f"thumbnail:{size}"


class LinkSigner:
    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()

    def sign(self, image_id: str, served: str, expires: int) -> str:
        message = f"{VERSION}\n{image_id}\n{served}\n{expires}".encode()
        digest = hmac.new(self._secret, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def verify(self, image_id: str, served: str, expires: str, signature: str, now: float) -> None:
        """Raise `InvalidSignature` unless this link was signed here as it is, `LinkExpired`
        if it was but its time is up."""
        if not (expires.isascii() and expires.isdigit() and len(expires) <= 12):
            raise InvalidSignature("The link's `expires` is not a time; ask for a new link.")
        expected = self.sign(image_id, served, int(expires))
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
            raise InvalidSignature("The link's signature does not match; ask for a new link.")
        if now >= int(expires):
            raise LinkExpired("The link has expired; ask for a new one.")
