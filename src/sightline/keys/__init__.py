"""Access control: API keys with scopes (stored hashed, or admin keys from the environment),
the web app's server-side sessions, signed image links, and the in-process limits on wrong
keys, request rates and requests in flight.

`service` holds the use cases, `store` and `sql` what is kept, `links` the link signatures and
`limits` the per-process counters.
"""

from sightline.keys.limits import AccessLimits, ConcurrencyLimit, FailureThrottle, RateLimit
from sightline.keys.links import LinkSigner
from sightline.keys.service import KeyService, NewKey, Principal
from sightline.keys.store import KeyRecord, Scope

__all__ = [
    "AccessLimits",
    "ConcurrencyLimit",
    "FailureThrottle",
    "KeyRecord",
    "KeyService",
    "LinkSigner",
    "NewKey",
    "Principal",
    "RateLimit",
    "Scope",
]
