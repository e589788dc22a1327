"""The live readahead controller: device checks, dry runs, and (root only)
a real loop device — the knob restored on exit, after the agent dies, and
by the guardian after a SIGKILL; nothing left behind."""

import glob
import os
import shutil
import subprocess
import sys
import time

import pytest

from kernelml.linux.readahead_knob import ReadaheadKnob, _disk_of, check_device
from kernelml.linux.readahead_live import LiveConfig, run_live
from kernelml.linux.sysio import CaptureError, KernelIO, Undo
from kernelml.linux.tracefs import find_tracefs


def _root_disk():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            p = line.split()
            if p[4] == "/":
                ma, mi = p[2].split(":")
                return _disk_of(os.makedev(int(ma), int(mi)))
    return None


def test_refuses_the_system_disk_and_things_that_are_not_disks(tmp_path):
    disk = _root_disk()
    if disk and os.path.exists(f"/dev/{disk}"):
        with pytest.raises(CaptureError, match="system"):
            check_device(disk)
    with pytest.raises(CaptureError):
        check_device(str(tmp_path))
    with pytest.raises(CaptureError):
        check_device("/dev/no-such-device-kernelml")


def test_dry_run_does_nothing_and_says_what_it_would_do(tmp_path):
    before = subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout if shutil.which("losetup") else ""
    io = KernelIO(dry_run=True)
    r = run_live(duration_s=1, io=io, cfg=LiveConfig())
    assert r["dry_run"]
    text = "\n".join(r["actions"])
    for what in ("losetup", "mkfs.ext4", "mount", "read_ahead_kb", "page_cache_sync_ra", "s_dev =="):
        assert what in text, what
    assert all(a.startswith("[dry] ") for a in r["actions"])
    after = subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout if shutil.which("losetup") else ""
    assert before == after


def test_knob_bounds_and_rate_limit_in_dry_run():
    k = ReadaheadKnob(KernelIO(dry_run=True), "loop7", min_kb=16, max_kb=1024, min_interval_s=3600, guardian=False)
    assert k.open() == 128
    assert k.set_kb(4096) and k.current_kb == 1024 and k.clamped == 1
    assert not k.set_kb(64) and k.rate_limited == 1  # inside the interval
    assert k.set_kb(64, force=True) and k.current_kb == 64
    k.restore()
    assert k.current_kb == 128


# ------------------------------------------------------------------ root only
def _requirements():
    if os.geteuid() != 0:
        return "needs root (loop devices, mount, tracefs, read_ahead_kb)"
    for tool in ("losetup", "mkfs.ext4", "mount", "umount"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if not os.path.exists("/dev/loop-control"):
        return "no loop device support"
    if "tracefs" not in open("/proc/filesystems").read():
        return "kernel without tracefs"
    root = find_tracefs()
    if root is not None and not os.path.isdir(os.path.join(root, "events", "readahead")):
        return "kernel without the readahead tracepoints"
    return None


_why = _requirements()
root_only = [pytest.mark.root, pytest.mark.skipif(_why is not None, reason=_why or "")]


def _leftovers(tmp_path):
    out = glob.glob(os.path.join(str(tmp_path), "kernelml-ra-*"))
    out += [ln for ln in subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout.splitlines()
            if str(tmp_path) in ln]
    out += glob.glob(f"/sys/fs/cgroup/memory/kernelml_ra_{os.getpid()}")
    root = find_tracefs()
    if root:
        out += glob.glob(os.path.join(root, "instances", f"kernelml_{os.getpid()}_*"))
    return out


@pytest.mark.root
@pytest.mark.skipif(_why is not None, reason=_why or "")
def test_live_agent_death_means_emergency_and_the_original_value(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    cfg = LiveConfig(epoch_ms=100, agent_deadline_ms=800, heartbeat_ms=200, min_dwell=4)
    r = run_live(duration_s=5.0, cfg=cfg, kill_agent_after_s=2.5, size_bytes=64 << 20)
    assert r["agent_killed"] and r["restored"]
    reasons = [t[3] for t in r["timeline"]]
    assert "RECOVERED" in reasons and reasons[-1] == "AGENT_SILENT" and r["mode"] == "emergency"
    assert not _leftovers(tmp_path)


@pytest.mark.root
@pytest.mark.skipif(_why is not None, reason=_why or "")
def test_guardian_restores_the_knob_after_sigkill(tmp_path):
    from kernelml.linux.loopdev import LoopFS

    io = KernelIO()
    undo = Undo()
    try:
        lfs = LoopFS(io, str(tmp_path), 32 << 20, "ext4", discard=False)
        lfs.setup(undo)
        knob = f"/sys/block/{os.path.basename(lfs.device)}/queue/read_ahead_kb"
        original = open(knob).read().strip()
        child = ("import os, signal\n"
                 "from kernelml.linux.readahead_knob import ReadaheadKnob\n"
                 "from kernelml.linux.sysio import KernelIO\n"
                 f"k = ReadaheadKnob(KernelIO(), {lfs.device!r}, min_interval_s=0)\n"
                 "k.open(); k.set_kb(48)\n"
                 "os.kill(os.getpid(), signal.SIGKILL)\n")
        p = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=60)
        assert p.returncode == -9
        for _ in range(50):  # the guardian sees the pipe close and restores
            if open(knob).read().strip() == original:
                break
            time.sleep(0.1)
        assert open(knob).read().strip() == original
    finally:
        assert undo.unwind() == []


@pytest.mark.root
@pytest.mark.skipif(_why is not None, reason=_why or "")
def test_live_bench_smoke_cleans_up(tmp_path, monkeypatch):
    """Two policies on one small workload: results for each, the knob back,
    nothing left (throughput is not asserted: timing)."""
    from kernelml.bench import readahead_live as rl

    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    res = rl.run_live_bench(["lookup-mmap"], ["default", "fixed-small"], repeats=1, duration_s=1.5, memcg_mib=64,
                            scale=0.1, device_size=512 << 20, log=lambda s: None)
    pols = {r["policy"] for r in res["runs"]}
    assert pols == {"default", "fixed-small"} and all(r["mib_s"] > 0 for r in res["runs"])
    assert res["meta"]["restored"]
    s = rl.summarize(res)
    assert s["lookup-mmap"]["default"]["n"] == 1
    assert not _leftovers(tmp_path)


def test_group_read_bytes_counts_what_the_group_read(tmp_path):
    # fio's progress in the live bench: the kernel's count of the bytes its processes read
    from kernelml.linux.readahead_drivers import group_read_bytes

    data = tmp_path / "data"
    data.write_bytes(b"x" * (3 << 20))
    code = (f"import sys, time; f = open({str(data)!r}, 'rb'); n = 0\n"
            "while f.read(65536): pass\n"
            "print('read', flush=True); time.sleep(30)")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert p.stdout.readline().strip() == b"read"
        got = group_read_bytes(p.pid)
        assert 3 << 20 <= got < (3 << 20) + (8 << 20)  # the file, plus the interpreter's own reads
        assert group_read_bytes(2 ** 22 + 12345) == 0  # no such group
    finally:
        p.kill()
        p.wait()
