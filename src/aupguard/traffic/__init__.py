"""Traffic: segments, counters (memory and Redis), channel limits, pumping and abuse
signals, and voice analytics from call records."""

from aupguard.traffic.segments import SegmentCount, count_segments, smart_encode

__all__ = ["SegmentCount", "count_segments", "smart_encode"]
