"""The capture's control path without root: dry runs, injected failures,
the undo stack, signal handling, the CLI, units."""

import os
import signal

import pytest
from typer.testing import CliRunner

from kernelml.cli.capture import app
from kernelml.linux.blockcapture import BlockCaptureSpec, capture_block
from kernelml.linux.sysio import InjectedFailure, Interrupted, KernelIO, Undo, interrupts_raise
from kernelml.linux.units import parse_duration, parse_size

SETUP_STEPS = ["image", "losetup", "mkfs", "mkdir-mnt", "mount", "prepare", "instance", "trace-clock",
               "buffer-size", "filter", "enable-event", "workload", "open-pipe", "tracing-on"]
CLEANUP_ORDER = ["cleanup-tracing-off", "cleanup-instance", "cleanup-umount", "cleanup-mnt-dir",
                 "cleanup-losetup", "cleanup-image", "cleanup-workdir"]


def steps(io):
    return [a.split(":", 1)[0].removeprefix("[dry] ") for a in io.actions]


def test_dry_run_does_everything_in_order_and_undoes_it():
    io = KernelIO(dry_run=True)
    s = capture_block(BlockCaptureSpec("fio-zipf", "/nonexistent/x.kmt", size_bytes=64 << 20, duration_s=5), io)
    assert s["dry_run"]
    seen = steps(io)
    assert [x for x in seen if x in SETUP_STEPS] == [x for x in SETUP_STEPS if x in seen]
    assert set(SETUP_STEPS) <= set(seen)
    cleanup = [x for x in seen if x.startswith("cleanup-") and x in CLEANUP_ORDER]
    assert cleanup == CLEANUP_ORDER
    assert any("dev == 7340032" in a for a in io.actions)  # the dry run's placeholder device is 7:0
    assert not os.path.exists("/nonexistent/x.kmt")


@pytest.mark.parametrize("fail_at", ["losetup", "mkfs", "mount", "instance", "filter", "enable-event", "tracing-on"])
def test_injected_failure_unwinds_what_was_done(fail_at):
    io = KernelIO(dry_run=True, fail_at=fail_at)
    with pytest.raises(InjectedFailure):
        capture_block(BlockCaptureSpec("dd", "/nonexistent/x.kmt", size_bytes=64 << 20, duration_s=1), io)
    seen = steps(io)
    at = seen.index(fail_at)
    done = seen[:at]
    undone = seen[at + 1:]
    # every resource acquired before the failure is released, in reverse order
    expect = []
    if "image" in done:
        expect.append("cleanup-image")
    if "losetup" in done:
        expect.append("cleanup-losetup")
    if "mount" in done:
        expect += ["cleanup-mnt-dir", "cleanup-umount"]
    elif "mkdir-mnt" in done:
        expect.append("cleanup-mnt-dir")
    if "instance" in done:
        expect += ["cleanup-instance", "cleanup-tracing-off"]
    assert [x for x in undone if x in expect] == list(reversed(expect))
    assert undone[-1] == "cleanup-workdir"
    # nothing new is acquired after the failure
    assert not [x for x in undone if x in SETUP_STEPS]


def test_undo_runs_everything_even_when_a_step_fails():
    ran = []
    u = Undo()
    u.push("a", lambda: ran.append("a"))
    u.push("b", lambda: (_ for _ in ()).throw(OSError("busy")))
    u.push("c", lambda: ran.append("c"))
    errors = u.unwind()
    assert ran == ["c", "a"] and len(errors) == 1 and "busy" in errors[0] and len(u) == 0


def test_sigterm_raises_inside_the_block_only():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted):
        with interrupts_raise():
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(10**6):  # the handler runs between bytecodes
                pass
    assert signal.getsignal(signal.SIGTERM) is before


def test_cli_dry_run_and_workloads():
    r = CliRunner().invoke(app, ["block", "-w", "pgbench", "-o", "/nonexistent/t.kmt", "--size", "2GiB",
                                 "--duration", "120s", "--dry-run"])
    assert r.exit_code == 0, r.output
    assert "mkfs.ext4" in r.output and "block_rq_issue" in r.output and "losetup -d" in r.output
    r = CliRunner().invoke(app, ["workloads"])
    assert r.exit_code == 0 and "pgbench" in r.output and "sort" in r.output


def test_cli_rejects_bad_input():
    r = CliRunner().invoke(app, ["block", "-w", "nope", "-o", "/tmp/x.kmt", "--dry-run"])
    assert r.exit_code != 0 and "unknown" in r.output
    r = CliRunner().invoke(app, ["block", "-w", "dd", "-o", "/tmp/x.kmt", "--size", "lots", "--dry-run"])
    assert r.exit_code == 2
    r = CliRunner().invoke(app, ["block", "-w", "dd", "-o", "/tmp/x.kmt", "-p", "nope=1", "--dry-run"])
    assert r.exit_code != 0 and "unknown parameters" in r.output


def test_units():
    assert parse_size("64MiB") == 64 << 20 and parse_size("2G") == 2 << 30 and parse_size("1000kB") == 10**6
    assert parse_size(4096) == 4096
    assert parse_duration("120s") == 120 and parse_duration("2m") == 120 and parse_duration("500ms") == 0.5
    with pytest.raises(ValueError):
        parse_size("12 parsecs")
    with pytest.raises(ValueError):
        parse_duration("soon")


def test_stale_leftovers_of_dead_captures_are_found_and_removed(tmp_path):
    from kernelml.linux.stale import find_stale, remove_stale

    dead = 4194304 + 7  # above the largest possible pid (2^22)
    stale = tmp_path / f"kernelml-cap-{dead}-abcd"
    (stale / "mnt").mkdir(parents=True)
    stale_ra = tmp_path / f"kernelml-ra-{dead}-ijkl"  # the live readahead controller's
    stale_ra.mkdir()
    alive = tmp_path / f"kernelml-cap-{os.getpid()}-efgh"
    alive.mkdir()
    (tmp_path / f"kernelml-ra-{os.getpid()}-mnop").mkdir()
    found = find_stale(str(tmp_path))
    assert found["dirs"] == [str(stale), str(stale_ra)] and found["mounts"] == [] and found["loops"] == []
    lines = remove_stale(dry_run=True, tmp=str(tmp_path))
    assert any("stale-dir" in ln and str(stale) in ln for ln in lines) and stale.exists()
    remove_stale(tmp=str(tmp_path))
    assert not stale.exists() and not stale_ra.exists() and alive.exists()
    assert (tmp_path / f"kernelml-ra-{os.getpid()}-mnop").exists()
