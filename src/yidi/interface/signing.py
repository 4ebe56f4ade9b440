"""The gateway signatures HIS software already implements.

1. Alibaba-CSB style, with the body signed too. Signed headers: ``_api_name`` (infno), ``_api_version``,
``_api_timestamp`` (13-digit ms, or 10-digit seconds as some provincial gateways send it),
``_api_access_key`` and ``_api_body_sm3`` (hex SM3 of the raw body — closes the classic scheme's gap
of an unsigned body). String to sign: the headers sorted by name as ``k=v&k=v``; signature =
Base64(HMAC(secret, string)). HMAC-SM3 by default; HMAC-SHA1 only as a per-credential compatibility flag.

2. The provincial "TIF" gateway family: ``x-tif-paasid`` (the access key), ``x-tif-timestamp`` (seconds),
``x-tif-nonce`` and ``x-tif-signature`` = lower-case hex SHA-256 of timestamp + token + nonce + timestamp,
the token being the credential's secret. This scheme does not cover the body (its known gap); the nonce
and the signature are refused when seen again (interface/authentication.py), so a captured request cannot be replayed.

Pure functions (no FastAPI, no database) so that the server, ``yidi.client`` and tests share them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac as std_hmac
import threading
import time

from cryptography.hazmat.primitives import hashes, hmac

from yidi.domain.credentials import ALGORITHMS

SIGNED_HEADERS = ("_api_access_key", "_api_body_sm3", "_api_name", "_api_timestamp", "_api_version")
API_VERSION = "1.0.0"
TIF_HEADERS = ("x-tif-paasid", "x-tif-timestamp", "x-tif-nonce", "x-tif-signature")


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


_last_ms = 0
_ms_lock = threading.Lock()


def _next_ms() -> int:
    """Now in ms, strictly increasing within this process: two calls with the same body never carry the same
    signature, which the server would refuse as a replay."""
    global _last_ms
    with _ms_lock:
        _last_ms = max(int(time.time() * 1000), _last_ms + 1)
        return _last_ms


def signed_headers(*, infno: str, body: bytes, access_key: str, secret: str, algorithm: str = "HMAC-SM3",
                   timestamp_ms: int | None = None, version: str = API_VERSION) -> dict[str, str]:
    """The headers a HIS sends with one call (what ``yidi.client`` uses)."""
    headers = {
        "_api_name": infno,
        "_api_version": version,
        "_api_timestamp": str(timestamp_ms if timestamp_ms is not None else _next_ms()),
        "_api_access_key": access_key,
        "_api_body_sm3": sm3_hex(body),
    }
    headers["_api_signature"] = signature(secret, headers, algorithm)
    return headers


def signature_matches(secret: str, headers: dict[str, str], algorithm: str, given: str) -> bool:
    return std_hmac.compare_digest(signature(secret, headers, algorithm), given or "")


def tif_signature(timestamp: str, token: str, nonce: str) -> str:
    """The TIF gateway's signature: hex SHA-256 of timestamp + token + nonce + timestamp."""
    return hashlib.sha256(f"{timestamp}{token}{nonce}{timestamp}".encode()).hexdigest()


def tif_headers(*, paasid: str, token: str, timestamp_s: int | None = None, nonce: str | None = None) -> dict[str, str]:
    """The headers a HIS behind a TIF gateway sends: nonce as vendors make it (hex ms + "-" + hex random)."""
    import secrets

    now = time.time()
    stamp = str(timestamp_s if timestamp_s is not None else int(now))
    nonce = nonce or f"{int(now * 1000):x}-{secrets.randbelow(0xFFFFFF):x}"
    return {"x-tif-paasid": paasid, "x-tif-timestamp": stamp, "x-tif-nonce": nonce,
            "x-tif-signature": tif_signature(stamp, token, nonce)}


def tif_signature_matches(token: str, timestamp: str, nonce: str, given: str) -> bool:
    return std_hmac.compare_digest(tif_signature(timestamp, token, nonce), (given or "").lower())
