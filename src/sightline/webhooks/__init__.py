"""Event subscriptions: CloudEvents pushed to subscribers' HTTP endpoints (webhooks).

`service` holds the use cases (create after the endpoint's handshake, change, redeliver…),
`dispatcher` the delivery engine that runs next to the workers, `filters` what a subscription
matches, `transport` the outbound HTTP that refuses non-public targets, and `signing` the
signature header, with `verify_signature` for receivers:

    from sightline.webhooks import verify_signature

    if not verify_signature(secret, request.headers["Sightline-Signature"], raw_body):
        return 401
"""

from sightline.addresses import AddressPolicy
from sightline.webhooks.dispatcher import Dispatcher
from sightline.webhooks.service import SubscriptionService
from sightline.webhooks.signing import SIGNATURE_HEADER, signature_header, verify_signature

__all__ = [
    "SIGNATURE_HEADER",
    "AddressPolicy",
    "Dispatcher",
    "SubscriptionService",
    "signature_header",
    "verify_signature",
]
