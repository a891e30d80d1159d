"""Who may write, and read: bearer API keys from SUPERBENCHMARK_API_KEYS, compared in constant time."""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from http import HTTPStatus

from fastapi import Depends, Request
from fastapi.params import Depends as Dependency

from src.entrypoints.http.problems import HttpProblem

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="superbenchmark"'}


class Access:
    def __init__(self, keys: Sequence[str], read_requires_key: bool) -> None:
        self._keys = [key.encode() for key in keys]
        self._read_requires_key = read_requires_key

    def writers(self) -> list[Dependency]:
        return [Depends(self._require_key)]

    def readers(self) -> list[Dependency]:
        # Open reads cost nothing per request: no dependency at all.
        return [Depends(self._require_key)] if self._read_requires_key else []

    async def _require_key(self, request: Request) -> None:
        if not self._keys:
            raise HttpProblem(
                HTTPStatus.FORBIDDEN,
                "no-api-keys-configured",
                "No API keys are configured",
                "this server has no API keys, so it accepts no request that needs one; "
                "set SUPERBENCHMARK_API_KEYS to a comma-separated list of keys",
            )
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise HttpProblem(
                HTTPStatus.UNAUTHORIZED,
                "missing-api-key",
                "API key required",
                "send an API key as `Authorization: Bearer <key>`",
                _CHALLENGE,
            )
        offered = given.strip().encode()
        # Every key is compared, so the time taken says nothing about which key came close.
        matches = [hmac.compare_digest(offered, key) for key in self._keys]
        if not any(matches):
            raise HttpProblem(
                HTTPStatus.UNAUTHORIZED,
                "wrong-api-key",
                "Wrong API key",
                "the API key is not one of this server's keys",
                _CHALLENGE,
            )
