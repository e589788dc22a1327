"""Channels between the kernel-side proxy and the user-space agent."""

from .base import Endpoint, TransportError  # noqa: F401
from .inproc import InProcChannel  # noqa: F401
