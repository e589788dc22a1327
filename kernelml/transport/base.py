"""The one interface every channel between proxy and agent implements.

An :class:`Endpoint` moves whole frames (bytes).  ``send`` and ``recv`` never
block: ``send`` returns False when the frame cannot be queued (full, or no
peer), ``recv`` returns what is there now.  Only user space may wait, with
:meth:`Endpoint.wait`.  ``connection_id`` changes each time a new peer
connects (None while there is none), so the proxy knows when to say HELLO.
"""

from __future__ import annotations

from abc import ABC, abstractmethod


class TransportError(OSError):
    """A channel could not be set up (bad path, permissions, peer refused)."""


class Endpoint(ABC):
    @abstractmethod
    def send(self, frame: bytes) -> bool:
        """Queue one frame without blocking; False if it was not taken."""

    @abstractmethod
    def recv(self, max_frames: int = 64) -> list[bytes]:
        """Return up to ``max_frames`` frames that have arrived, without blocking."""

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds until a frame may be read (user space only)."""
        return False

    @property
    def connection_id(self) -> int | None:
        return 0

    @property
    def connected(self) -> bool:
        return self.connection_id is not None

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
