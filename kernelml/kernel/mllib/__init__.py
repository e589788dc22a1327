"""The ML library core: proxy, modes, efficiency.  Knows no subsystem."""

from .efficiency import HUMAN, ML, SOURCE_NAMES, Efficiency, Verdict  # noqa: F401
from .modes import DEFAULT_SHARES, Health, ModeConfig, ModeController  # noqa: F401
from .proxy import MLModelProxy, OpKind, ProxyConfig, Reject  # noqa: F401
