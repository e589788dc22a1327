"""The user-space agent and its learners (numpy, river, scikit-learn allowed here)."""

from .agent import Agent  # noqa: F401
from .learner import Advice, Learner  # noqa: F401
from .learners import LEARNERS  # noqa: F401
