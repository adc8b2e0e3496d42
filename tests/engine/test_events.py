"""Event times are RFC 3339 with an offset everywhere an event carries one."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from aupguard.engine.events import CallRecord

CDR = {
    "from": "+12025550143",
    "to": "+14155550123",
    "start": "2026-11-20T14:00:00Z",
    "answer": "2026-11-20T14:00:05Z",
    "end": "2026-11-20T14:03:00+01:00",
}


@pytest.mark.parametrize("field", ["start", "answer", "end"])
@pytest.mark.parametrize("value", [0, 1_763_647_200.5, "2026-11-20", "2026-11-20T14:00:00"])
def test_call_record_times_need_rfc3339_with_an_offset(field: str, value: object) -> None:
    assert CallRecord.model_validate(CDR).answer is not None
    with pytest.raises(ValidationError, match="RFC 3339"):
        CallRecord.model_validate({**CDR, field: value})
