"""Link signatures: a link opens exactly what was signed, until its time is up."""

from __future__ import annotations

import pytest

from sightline.errors import InvalidSignature, LinkExpired
from sightline.keys import LinkSigner
from sightline.keys.links import CONTENT, thumbnail

EXPIRES = 2_000_000_000


def test_a_signed_link_verifies_until_it_expires() -> None:
    signer = LinkSigner("secret")
    signature = signer.sign("img_1", thumbnail("256"), EXPIRES)
    signer.verify("img_1", thumbnail("256"), str(EXPIRES), signature, now=EXPIRES - 1)
    with pytest.raises(LinkExpired):
        signer.verify("img_1", thumbnail("256"), str(EXPIRES), signature, now=EXPIRES)


@pytest.mark.parametrize(
    ("image_id", "served", "expires", "secret"),
    [
        ("img_2", CONTENT, str(EXPIRES), "secret"),
        ("img_1", thumbnail("512"), str(EXPIRES), "secret"),
        ("img_1", CONTENT, str(EXPIRES + 1), "secret"),
        ("img_1", CONTENT, "+2000000000", "secret"),
        ("img_1", CONTENT, "", "secret"),
        ("img_1", CONTENT, str(EXPIRES), "another secret"),
    ],
)
def test_changing_anything_breaks_the_signature(
    image_id: str, served: str, expires: str, secret: str
) -> None:
    signature = LinkSigner("secret").sign("img_1", CONTENT, EXPIRES)
    with pytest.raises(InvalidSignature):
        LinkSigner(secret).verify(image_id, served, expires, signature, now=0)
    with pytest.raises(InvalidSignature):
        LinkSigner("secret").verify("img_1", CONTENT, str(EXPIRES), signature[:-1] + "é", now=0)
