"""Real block captures on a tiny loop device (root only).

Each test checks that the events are those of the capture's own device and
that nothing is left behind: no loop device backed by the capture's image,
no mount under its directory, no tracefs instance of this process, no
temporary directory."""

import glob
import os
import shutil

import pytest

from kernelml.linux.blockcapture import BlockCaptureSpec, capture_block
from kernelml.linux.sysio import InjectedFailure, KernelIO
from kernelml.workloads.kmt import KmtFile, open_kmt

pytestmark = pytest.mark.root


def _requirements():
    if os.geteuid() != 0:
        return "needs root (loop devices, mount, tracefs)"
    for tool in ("losetup", "mkfs.ext4", "mount", "umount"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if not os.path.exists("/dev/loop-control"):
        return "no loop device support (/dev/loop-control)"
    if "tracefs" not in open("/proc/filesystems").read():
        return "kernel without tracefs"
    return None


_why = _requirements()
skip_unless_root = pytest.mark.skipif(_why is not None, reason=_why or "")


def leftovers(tmpdir):
    mine = [d for d in glob.glob(os.path.join(str(tmpdir), "kernelml-cap-*"))]
    loops = []
    for f in glob.glob("/sys/block/loop*/loop/backing_file"):
        try:
            if open(f).read().strip().startswith(str(tmpdir)):
                loops.append(f)
        except OSError:
            pass
    mounts = [ln for ln in open("/proc/self/mounts").read().splitlines() if str(tmpdir) in ln]
    instances = []
    for root in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"):
        instances += glob.glob(os.path.join(root, "instances", f"kernelml_{os.getpid()}_*"))
    return {"dirs": mine, "loops": loops, "mounts": mounts, "instances": instances}


NOTHING = {"dirs": [], "loops": [], "mounts": [], "instances": []}


@skip_unless_root
def test_capture_dd_on_a_tiny_device(tmp_path):
    out = str(tmp_path / "dd.kmt")
    spec = BlockCaptureSpec("dd", out, size_bytes=64 << 20, duration_s=3, params={"file_mib": 4, "passes": 2},
                            completions=True, tmpdir=str(tmp_path))
    s = capture_block(spec)
    assert leftovers(tmp_path) == NOTHING
    assert s["events"] > 0 and s["lost_events"] == 0 and s["other_device"] == 0
    kf = KmtFile(out)
    scan = kf.scan()
    assert not scan["truncated"] and kf.trailer["events"] == scan["records"] == s["events"]
    h = kf.header
    assert h["loop"]["major"] == 7 and h["filter"] == f"dev == {(7 << 20) | h['loop']['minor']}"
    assert scan["max_sector_end"] <= h["device_sectors"]
    assert scan["complete"] > 0 and scan["bytes"]["write"] >= 8 << 20  # 2 passes over 4 MiB
    w = open_kmt(out)
    assert w.scan().write_blocks >= 2 * 1024
    names = [p["name"] for p in kf.trailer["phases"]]
    assert names == ["run", "syncfs"]


@skip_unless_root
@pytest.mark.parametrize("fail_at", ["mount", "filter", "workload"])
def test_failure_leaves_nothing_behind(tmp_path, fail_at):
    out = str(tmp_path / "f.kmt")
    io = KernelIO(fail_at=fail_at)
    spec = BlockCaptureSpec("dd", out, size_bytes=64 << 20, duration_s=2, params={"file_mib": 2, "passes": 1},
                            tmpdir=str(tmp_path))
    with pytest.raises(InjectedFailure):
        capture_block(spec, io)
    assert leftovers(tmp_path) == NOTHING
    if fail_at == "workload":  # tracing had started: the partial trace says why it ended
        kf = KmtFile(out)
        list(kf.frames())
        assert kf.trailer["interrupted"] and "injected" in kf.trailer["error"]
