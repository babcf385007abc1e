"""The OpenAPI document as the tests read it: which operation a request is, and whether an answer
conforms to it (status, error code, body, headers). No fixtures here.

``conforms(response)`` takes a Django test client response; tests/test_openapi.py runs it over
answers of every operation, tests/system/test_fuzz.py over every fuzzed answer.
"""

from __future__ import annotations

import json
from typing import Any

from django.urls import resolve
from jsonschema import Draft202012Validator, FormatChecker

from presigned_transfers import openapi

DOC = openapi.document()
METHODS = ("get", "head", "post", "put", "patch", "delete", "options", "trace")


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    """(path, method, operation) for every operation in the document."""
    return [
        (path, method, operation)
        for path, item in DOC["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def resolved(ref_or_object: dict[str, Any]) -> dict[str, Any]:
    """*ref_or_object*, or what its ``$ref`` (into this document) points at."""
    ref = ref_or_object.get("$ref")
    if ref is None:
        return ref_or_object
    target: Any = DOC
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return resolved(target)


def operation_of(path_info: str, method: str) -> dict[str, Any] | None:
    """The document's operation for a request, or ``None`` when the endpoint lacks the method."""
    name = resolve(path_info).url_name
    (item,) = [item for item in DOC["paths"].values() if item["x-url-name"] == name]
    return item.get(method.lower())


def error_codes(response_object: dict[str, Any]) -> list[str]:
    """The error codes a documented response lists (empty for a success)."""
    schema = resolved(response_object).get("content", {}).get("application/json", {})
    for part in schema.get("schema", {}).get("allOf", []):
        if "properties" in part:
            return list(part["properties"]["error"]["properties"]["code"]["enum"])
    return []


def validator(schema: dict[str, Any]) -> Draft202012Validator:
    # The document's own "#/components/..." references resolve against it.
    return Draft202012Validator(
        {**schema, "components": DOC["components"]}, format_checker=FormatChecker()
    )


def conforms(response: Any) -> None:
    """Assert that a Django test client answer is what the document says of its operation."""
    request = response.request
    method = request["REQUEST_METHOD"]
    operation = operation_of(request["PATH_INFO"], method)
    if operation is None:
        documented = DOC["components"]["responses"]["MethodNotAllowed"]
        assert response.status_code == 405, (method, request["PATH_INFO"], response.status_code)
    else:
        assert str(response.status_code) in operation["responses"], (
            operation["operationId"],
            response.status_code,
            response.content[:300],
        )
        documented = resolved(operation["responses"][str(response.status_code)])
    for name, header in documented.get("headers", {}).items():
        header = resolved(header)
        if header.get("required"):
            assert response.has_header(name), (name, response.status_code)
        if response.has_header(name):
            errors = list(validator(header["schema"]).iter_errors(response[name]))
            assert not errors, (name, response[name], errors)
    content = documented.get("content")
    if not content or method == "HEAD":
        return
    assert response["Content-Type"] in content, response["Content-Type"]
    body = json.loads(response.content)
    errors = list(validator(content[response["Content-Type"]]["schema"]).iter_errors(body))
    assert not errors, (
        operation and operation["operationId"],
        response.status_code,
        body,
        [error.message for error in errors],
    )
