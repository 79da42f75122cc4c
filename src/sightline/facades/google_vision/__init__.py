"""Google Cloud Vision's `images:annotate` over REST: `routes` answers it, `answers` puts
Sightline's results in the service's shapes and `errors` names failures as the service does
(google.rpc.Status codes)."""

from sightline.facades.google_vision.routes import router

__all__ = ["router"]
