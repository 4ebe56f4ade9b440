"""An institution's interface credential: which HMAC algorithms its signature may use.

HMAC-SM3 by default; HMAC-SHA1 only as a per-credential compatibility flag for older HIS software (the
interface spec's authentication section). Issuing a credential (services/credentials.py) and checking a
signature (interface/signing.py) both read this one list.
"""

from __future__ import annotations

ALGORITHMS = ("HMAC-SM3", "HMAC-SHA1")
