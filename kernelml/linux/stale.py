"""Find and remove what a capture killed without a chance to clean up left.

A capture names everything after its process id: the temporary directory
``<tmp>/kernelml-cap-<pid>-*`` (image, mount point, private tracefs
mount), the tracefs instance ``kernelml_<pid>_*``; a memory capture
``<tmp>/kernelml-mem-<pid>-*``; the live readahead controller and bench
``<tmp>/kernelml-ra-<pid>-*``.  When that process no longer exists they
are stale: mounts inside the directory are unmounted, loop devices backed
by its image detached, the instance stopped and removed, the directory
deleted.  Nothing belonging to a live process is touched.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import tempfile

from kernelml.linux.sysio import KernelIO, _unescape
from kernelml.linux.tracefs import stale_instances


def _dead(pid: str) -> bool:
    return not os.path.exists(f"/proc/{pid}")


def _loops_backed_by(prefix: str) -> list[str]:
    out = []
    for f in glob.glob("/sys/block/loop*/loop/backing_file"):
        try:
            back = KernelIO.read(f).strip()
        except OSError:
            continue
        if back.startswith(prefix):
            out.append("/dev/" + f.split("/")[3])
    return out


def find_stale(tmp: str | None = None) -> dict:
    tmp = tmp or tempfile.gettempdir()
    dirs = []
    for d in sorted(glob.glob(os.path.join(tmp, "kernelml-cap-*")) + glob.glob(os.path.join(tmp, "kernelml-mem-*"))
                    + glob.glob(os.path.join(tmp, "kernelml-ra-*"))):
        m = re.match(r"kernelml-(?:cap|mem|ra)-(\d+)-", os.path.basename(d))
        if m and _dead(m.group(1)):
            dirs.append(d)
    mounts, loops = [], []
    mount_lines = KernelIO.read("/proc/self/mounts").splitlines()
    for d in dirs:
        real = os.path.realpath(d)
        for line in mount_lines:
            parts = line.split()
            if len(parts) >= 2 and _unescape(parts[1]).startswith(real + "/"):
                mounts.append(_unescape(parts[1]))
        loops += _loops_backed_by(real + "/")
    return {"instances": stale_instances(), "mounts": sorted(mounts, key=len, reverse=True), "loops": loops,
            "dirs": dirs}


def remove_stale(dry_run: bool = False, tmp: str | None = None) -> list[str]:
    """Remove stale capture leftovers; returns one line per action (or per
    failure)."""
    io = KernelIO(dry_run=dry_run)
    st = find_stale(tmp)
    lines = []
    for inst in st["instances"]:
        try:
            for f in [os.path.join(inst, "tracing_on")] + glob.glob(os.path.join(inst, "events/*/*/enable")):
                io.write(f, "0", "stale-disable")
            io.rmdir(inst, "stale-instance", retries=5)
        except OSError as exc:
            lines.append(f"failed: {inst}: {exc}")
    for m in st["mounts"]:
        try:
            io.umount(m, "stale-umount", retries=3)
        except Exception as exc:  # noqa: BLE001
            lines.append(f"failed: umount {m}: {exc}")
    for dev in st["loops"]:
        try:
            io.run(["losetup", "-d", dev], "stale-losetup")
        except Exception as exc:  # noqa: BLE001
            lines.append(f"failed: losetup -d {dev}: {exc}")
    for d in st["dirs"]:
        io.step("stale-dir", f"rm -r {d}")
        if not dry_run:
            shutil.rmtree(d, ignore_errors=True)
    lines = io.actions + lines
    return lines or ["nothing stale"]
