"""How F2FS would classify a data write as hot, warm or cold.

Sources (Linux fs/f2fs and f2fs-tools; facts restated, no code copied):

* ``fs/f2fs/namei.c: set_file_temperature()`` runs when an inode is created
  with a name: the name is matched against the superblock's extension list,
  *cold* extensions first, then *hot* ones; the first match marks the file
  cold (``file_set_cold``) or hot (``file_set_hot``).  The match
  (``is_extension_exist(..., tmp_ext=true)``) accepts ``.ext`` anywhere
  after the first character and compares as a case-insensitive *prefix*, so
  ``mp`` covers ``.mp3``, ``.mp4``, ``.mpeg`` and ``x.mp4.tmp``; ``*``
  matches everything; names shorter than ``len(ext) + 2`` never match.
* Default lists written by ``mkfs.f2fs`` (f2fs-tools ``mkfs/f2fs_format.c``,
  ``media_ext_lists`` and ``hot_ext_lists``): :data:`COLD_EXTENSIONS`,
  :data:`HOT_EXTENSIONS` below (the VM image extensions are left out on
  Android builds).
* ``fs/f2fs/segment.c: __get_segment_type_6()`` picks the data log: cold
  files go to COLD_DATA; hot files, and inodes flagged ``FI_HOT_DATA``, to
  HOT_DATA; the rest to WARM_DATA (unless the write-lifetime hint or the
  optional block-age extent cache says otherwise; neither is modelled).
* ``fs/f2fs/data.c: f2fs_write_cache_pages()`` sets ``FI_HOT_DATA`` when
  the inode has at most ``min_hot_blocks`` dirty pages at writeback
  (``DEF_MIN_HOT_BLOCKS`` = 16, fs/f2fs/segment.h): small flushes are hot.
* ``Documentation/filesystems/f2fs.rst`` ("Default Block Allocation"):
  hot data holds directory entry blocks; cold data holds multimedia and
  blocks migrated by GC.

Departures: node blocks (inodes, direct/indirect nodes) live in F2FS's
separate node logs and are not part of a data-block stream; GC-migrated
data is the simulator's business, not the workload's.
"""

from __future__ import annotations

from kernelml.workloads.base import HINT_COLD, HINT_HOT, HINT_WARM

COLD_EXTENSIONS = (
    "mp", "wm", "og", "jp",  # common prefixes: mp3/mp4/mpeg, wma/wmv, ogg/ogv, jpg/jpeg
    "avi", "m4v", "m4p", "mkv", "mov", "webm",  # video
    "wav", "m4a", "3gp", "opus", "flac",  # audio
    "gif", "png", "svg", "webp",  # image
    "jar", "deb", "iso", "gz", "xz", "zst",  # archives
    "pdf", "pyc", "ttc", "ttf", "exe",  # others
    "apk", "cnt", "exo", "odex", "vdex", "so",  # android
)
HOT_EXTENSIONS = ("db", "vmdk", "vdi", "qcow2")
DEF_MIN_HOT_BLOCKS = 16


def extension_matches(name: str, ext: str) -> bool:
    """F2FS's temperature-extension match (prefix match after any dot past
    the first character, case-insensitive)."""
    if ext == "*":
        return True
    s, sub = name.lower(), ext.lower()
    if len(s) < len(sub) + 2:
        return False
    for i in range(1, len(s) - len(sub)):
        if s[i] == "." and s.startswith(sub, i + 1):
            return True
    return False


def file_temperature(name: str, cold=COLD_EXTENSIONS, hot=HOT_EXTENSIONS) -> str | None:
    """``"cold"``, ``"hot"`` or None (no mark), as set_file_temperature() decides."""
    for ext in cold:
        if extension_matches(name, ext):
            return "cold"
    for ext in hot:
        if extension_matches(name, ext):
            return "hot"
    return None


def data_hint(name: str | None, dirty_blocks: int, is_dir: bool = False) -> int:
    """The HINT_* a data write of ``dirty_blocks`` blocks of file ``name``
    gets: directory blocks are hot; cold-marked files cold; hot-marked files,
    and flushes of at most DEF_MIN_HOT_BLOCKS dirty blocks, hot; else warm."""
    if is_dir:
        return HINT_HOT
    mark = file_temperature(name) if name else None
    if mark == "cold":
        return HINT_COLD
    if mark == "hot" or dirty_blocks <= DEF_MIN_HOT_BLOCKS:
        return HINT_HOT
    return HINT_WARM
