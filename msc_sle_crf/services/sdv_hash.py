"""What a source-data verification mark holds of the value it verified: a hash of the stored value row. Shared by
the monitoring service (which writes and reads the marks) and the trail replay (which checks them), apart from both
(the replay must not import the services above it)."""

from __future__ import annotations

import hashlib
import json


def hash_of_value(value: str | None, unit: str | None, missing_code: str | None, missing_reason: str | None) -> str:
    """A stored value row (value, unit, missing code and its reason)."""
    return hashlib.sha256(json.dumps([value, unit, missing_code, missing_reason]).encode()).hexdigest()


NO_VALUE_HASH = hashlib.sha256(json.dumps(None).encode()).hexdigest()  # no value row at all
