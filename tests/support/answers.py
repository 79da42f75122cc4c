"""Every answer a test server gives, held to the OpenAPI document: a status the operation does
not document, or an error code its status does not list, fails the test that provoked it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Enough of an error body to read its code; the bodies of images and lists are not kept.
MAX_ERROR_BODY = 64 * 1024


@dataclass(frozen=True)
class Answer:
    method: str
    path: str
    status: int
    code: str | None


@dataclass
class RecordAnswers:
    """ASGI middleware that keeps the method, path, status and error code of every answer."""

    app: ASGIApp
    answers: list[Answer] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0
        body = bytearray()

        async def recording(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif status >= 400 and len(body) < MAX_ERROR_BODY:
                body.extend(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, recording)
        finally:
            if status:
                self.answers.append(
                    Answer(scope["method"], scope["path"], status, _code(bytes(body)))
                )


def _code(body: bytes) -> str | None:
    try:
        code = json.loads(body)["error"]["code"]
    except (ValueError, TypeError, KeyError):
        return None
    return code if isinstance(code, str) else None


def undocumented(answers: list[Answer], document: dict[str, Any]) -> list[str]:
    """The answers the document does not foresee, said in words. Paths that match no documented
    operation (an unknown route, a method the path does not serve: 404 and 405 for any path)
    and operations left out of the document are not its business."""
    templates = [(_template(path), path) for path in document["paths"]]
    problems = []
    for answer in answers:
        path = next((path for pattern, path in templates if pattern.fullmatch(answer.path)), None)
        operation = document["paths"].get(path, {}).get(answer.method.lower())
        if operation is None:
            continue
        said = f"{answer.method} {answer.path} answered {answer.status} {answer.code or ''}"
        response = operation["responses"].get(str(answer.status))
        if response is None:
            problems.append(f"{said}: {answer.method} {path} documents no {answer.status}")
        elif answer.code is not None and answer.status >= 400:
            codes = error_codes(response)
            if answer.code not in codes:
                problems.append(f"{said}: its {answer.status} lists only {codes}")
    return problems


def error_codes(response: dict[str, Any]) -> list[str]:
    """The codes an error response of the document lists."""
    schema = response["content"]["application/json"]["schema"]
    parts = schema.get("allOf", [schema])
    for part in parts:
        code = part.get("properties", {}).get("error", {}).get("properties", {}).get("code", {})
        if "enum" in code:
            found: list[str] = code["enum"]
            return found
    return []


def _template(path: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)))
