"""Cache backends for fault tests."""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.base import BaseCache


class NoCountCache(BaseCache):
    """A cache that is there but cannot count, as python-memcached is when its server is down:
    ``add`` fails and ``incr`` raises ``ValueError`` (django-ratelimit then gets no count)."""

    def __init__(self, location: str = "", params: dict[str, Any] | None = None) -> None:
        super().__init__(params or {})

    def add(self, *args: Any, **kwargs: Any) -> bool:
        return False

    def get(self, key: str, default: Any = None, version: int | None = None) -> Any:
        return default

    def set(self, *args: Any, **kwargs: Any) -> None:
        return None

    def incr(self, *args: Any, **kwargs: Any) -> int:
        raise ValueError("no server")

    def delete(self, *args: Any, **kwargs: Any) -> bool:
        return False

    def clear(self) -> None:
        return None
