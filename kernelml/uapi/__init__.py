"""The contract between the kernel side and user space: message layouts,
their encoding, and per-subsystem schemas (``uapi/<subsystem>.py``)."""

from .messages import (  # noqa: F401
    ALL_KINDS, MAX_FRAME, PROTOCOL_VERSION, Desc, DescKind, Feedback, FrameError, Heartbeat, Hello,
    ModeAction, ModeCommand, MsgType, Recommendation, Sender, Telemetry, Transition, decode, encode,
)
