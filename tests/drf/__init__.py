"""Tests of presigned_transfers.rest_framework; also a Django app with a host project's models.

Collected only where Django REST framework is installed (``tox -e drf``); see tests/conftest.py.
"""
