"""The gateway signature HIS software already implements (Alibaba-CSB style), with the body signed too.

Signed headers: ``_api_name`` (infno), ``_api_version``, ``_api_timestamp`` (13-digit ms),
``_api_access_key`` and ``_api_body_sm3`` (hex SM3 of the raw body — closes the classic scheme's gap
of an unsigned body). String to sign: the headers sorted by name as ``k=v&k=v``; signature =
Base64(HMAC(secret, string)). HMAC-SM3 by default; HMAC-SHA1 only as a per-credential compatibility flag.

Pure functions (no FastAPI, no database) so that the server, ``yidi.client`` and tests share them.
"""

from __future__ import annotations

import base64
import hmac as std_hmac
import time

from cryptography.hazmat.primitives import hashes, hmac

ALGORITHMS = ("HMAC-SM3", "HMAC-SHA1")
SIGNED_HEADERS = ("_api_access_key", "_api_body_sm3", "_api_name", "_api_timestamp", "_api_version")
API_VERSION = "1.0.0"


def sm3_hex(body: bytes) -> str:
    digest = hashes.Hash(hashes.SM3())
    digest.update(body)
    return digest.finalize().hex()


def string_to_sign(headers: dict[str, str]) -> str:
    return "&".join(f"{name}={headers.get(name, '')}" for name in SIGNED_HEADERS)


def signature(secret: str, headers: dict[str, str], algorithm: str = "HMAC-SM3") -> str:
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unsupported algorithm {algorithm}")
    mac = hmac.HMAC(secret.encode(), hashes.SM3() if algorithm == "HMAC-SM3" else hashes.SHA1())
    mac.update(string_to_sign(headers).encode())
    return base64.b64encode(mac.finalize()).decode()


def signed_headers(*, infno: str, body: bytes, access_key: str, secret: str, algorithm: str = "HMAC-SM3",
                   timestamp_ms: int | None = None, version: str = API_VERSION) -> dict[str, str]:
    """The headers a HIS sends with one call (what ``yidi.client`` uses)."""
    headers = {
        "_api_name": infno,
        "_api_version": version,
        "_api_timestamp": str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)),
        "_api_access_key": access_key,
        "_api_body_sm3": sm3_hex(body),
    }
    headers["_api_signature"] = signature(secret, headers, algorithm)
    return headers


def signature_matches(secret: str, headers: dict[str, str], algorithm: str, given: str) -> bool:
    return std_hmac.compare_digest(signature(secret, headers, algorithm), given or "")
