"""Identity: sender and caller-id ownership, STIR/SHAKEN, and the call-side checks
(emergency numbers, recording consent, call caps, sanctioned destinations)."""
