"""`/v1/images/{id}/links`: signed links to an image's original and thumbnails, which work
without an API key until they expire (checked in `api.auth`; signed by `keys.links`)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from sightline.api import deps
from sightline.api import openapi_examples as shown
from sightline.api.errors import documented
from sightline.api.openapi_examples import examples
from sightline.api.routing import StrictJSONRoute
from sightline.api.scope import ReadCollection
from sightline.errors import ImageNotFound
from sightline.images.service import ImageService
from sightline.keys import KeyService, links
from sightline.vision.thumbnail import THUMBNAIL_SIZES

router = APIRouter(prefix="/v1/images", tags=["images"], route_class=StrictJSONRoute)
Images = Annotated[ImageService, deps.part("images")]
Keys = Annotated[KeyService, deps.part("keys")]
MAX_LINK_SECONDS = 7 * 24 * 3600


class LinksOut(BaseModel):
    model_config = examples(shown.LINKS)

    expires_at: datetime
    content: str = Field(description="The original.")
    thumbnails: dict[str, str] = Field(description="Each thumbnail size's link.")


@router.get(
    "/{image_id}/links",
    response_model=LinksOut,
    responses=documented(ImageNotFound),
    summary="Signed links to the original and thumbnails that need no API key until they expire",
)
def image_links(
    image_id: str,
    request: Request,
    response: Response,
    images: Images,
    keys: Keys,
    collection: ReadCollection,
    expires_in: Annotated[
        int, Query(ge=1, le=MAX_LINK_SECONDS, description="Seconds the links work.")
    ] = 3600,
) -> Any:
    """Each link opens one thing of one image: changing the id, the size or the expiry makes
    it 403 `InvalidSignature`; past its time it is 403 `LinkExpired`. Links do not depend on
    the key that asked for them (revoking it leaves them working); changing
    SIGHTLINE_URL_SIGNING_KEY ends them all. Absolute URLs, from the request's host."""
    images.get(image_id, collection=collection)
    expires = int(time.time()) + expires_in
    signer = keys.link_signer()

    def signed(route: str, served: str, **query: Any) -> str:
        signature = signer.sign(image_id, served, expires)
        parameters = urlencode({**query, "expires": expires, "signature": signature})
        return f"{request.url_for(route, image_id=image_id)}?{parameters}"

    response.headers["Cache-Control"] = "no-store"
    return LinksOut(
        expires_at=datetime.fromtimestamp(expires, UTC),
        content=signed("get_content", links.CONTENT),
        thumbnails={
            str(size): signed("get_thumbnail", links.thumbnail(str(size)), size=size)
            for size in THUMBNAIL_SIZES
        },
    )
