"""Learner checkpoints: a pickle written atomically (temp file + rename), so
a crash mid-write never leaves a truncated checkpoint behind."""

from __future__ import annotations

import os
import pickle
import tempfile

FORMAT = 1


def save_checkpoint(path: str, state: dict) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".ckpt-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump({"format": FORMAT, **state}, f, protocol=pickle.HIGHEST_PROTOCOL)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_checkpoint(path: str) -> dict | None:
    """The saved state, or None if there is no checkpoint.  A checkpoint of
    another format or an unreadable one raises ValueError with the path."""
    if not os.path.exists(path):
        return None
    try:
        with open(path, "rb") as f:
            state = pickle.load(f)
    except Exception as exc:
        raise ValueError(f"checkpoint {path} is unreadable: {exc}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"checkpoint {path} has an unknown format")
    state.setdefault("learners", {})
    state.setdefault("epochs", {})
    return state
