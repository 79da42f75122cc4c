"""The web app: a single page served at `/`, its static assets under `/ui/`, and the browser
session (`/ui/session`) that lets a signed-in browser use the API-key-protected `/v1` routes.

The app is plain ES modules and hand-written CSS in `static/`, served as they are: no build
step, no third-party front-end code. It talks only to the public `/v1` API.
"""

from sightline.web.routes import router

__all__ = ["router"]
