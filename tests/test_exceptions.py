"""exceptions.py: one error shape, a status and a code per class."""

from __future__ import annotations

import inspect

import pytest

from presigned_transfers import exceptions

CLASSES = [
    cls
    for cls in vars(exceptions).values()
    if inspect.isclass(cls) and issubclass(cls, exceptions.TransferError)
]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_every_error_has_a_status_a_code_and_a_docstring(cls):
    assert 400 <= cls.status <= 599
    assert cls.code
    assert cls.code == cls.code.lower()
    assert cls.__doc__.startswith("Raised when")
    error = cls(retry_after=3) if cls is exceptions.RateLimited else cls()
    body = error.as_dict()
    assert body["error"]["code"] == cls.code
    assert body["error"]["message"] == str(cls.default_message)
    assert str(error) == error.message


def test_codes_are_unique():
    # InvalidRequest shares the base class's generic code; every other refusal has its own.
    codes = [cls.code for cls in CLASSES if cls is not exceptions.TransferError]
    assert len(codes) == len(set(codes))


def test_message_code_status_and_details_can_be_given():
    error = exceptions.TransferError("Nope.", code="custom", status=418, details={"why": "teapot"})
    assert (error.status, error.code, error.message) == (418, "custom", "Nope.")
    assert error.as_dict() == {
        "error": {"code": "custom", "message": "Nope.", "details": {"why": "teapot"}}
    }
    # The class keeps its own defaults.
    assert exceptions.TransferError.status == 400
    assert exceptions.TransferError.code == "invalid_request"


def test_details_are_left_out_when_empty():
    assert exceptions.UploadNotFound().as_dict() == {
        "error": {"code": "not_found", "message": "No such upload."}
    }


def test_rate_limited_carries_retry_after():
    error = exceptions.RateLimited(retry_after=17)
    assert error.retry_after == 17
    assert error.as_dict()["error"]["details"] == {"retry_after": 17}
    assert error.status == 429
