"""aupguard: acceptable-use-policy enforcement for communications platforms.

from aupguard import Engine, OutboundMessage
engine = Engine.from_pack()
decision = engine.screen(OutboundMessage(sender="+12025550143", to="+14155550123",
                                         body="see you at 7"))
"""

from aupguard.engine.decision import Decision, Evidence, RuleHit, Verdict
from aupguard.engine.events import (
    AccountSignup,
    ApiRequest,
    CallAttempt,
    CallRecord,
    Channel,
    InboundMessage,
    Media,
    MessageCategory,
    OutboundMessage,
    SenderType,
)
from aupguard.engine.facade import Engine
from aupguard.engine.state import (
    AccountState,
    ConsentState,
    LimitState,
    RecipientState,
    SenderState,
    State,
)

__version__ = "0.1.0"

__all__ = [
    "AccountSignup",
    "AccountState",
    "ApiRequest",
    "CallAttempt",
    "CallRecord",
    "Channel",
    "ConsentState",
    "Decision",
    "Engine",
    "Evidence",
    "InboundMessage",
    "LimitState",
    "Media",
    "MessageCategory",
    "OutboundMessage",
    "RecipientState",
    "RuleHit",
    "SenderState",
    "SenderType",
    "State",
    "Verdict",
    "__version__",
]
