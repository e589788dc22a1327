"""Channels between the kernel-side proxy and the user-space agent."""

from .base import Endpoint, TransportError  # noqa: F401
from .inproc import InProcChannel  # noqa: F401

# UnixServer/UnixClient (transport.unix) and ShmServer/ShmClient (transport.shm) are
# imported from their modules: they pull in OS-specific pieces the in-process path does not need.
