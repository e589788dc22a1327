"""The live readahead bench: real workloads on a loop device this bench
creates, under the kernel default, fixed small and large windows, the
KML-like static classifier and the ML proxy (root only).

Set-up (:class:`~kernelml.linux.readahead_live.LiveEnv`): a sparse image
on a loop device with direct I/O (so the host's page cache does not stand
in for the device), ext4, a private tracefs instance, the knob with its
guardian, and a v1 memory cgroup of ``memcg_mib`` MiB that the workloads
run in — their page cache is capped below their data, as a database's is.
Data (written once): 8 files of 128 MiB (``seq/``), one of 1 GiB
(``big.dat``), 16 tables of 32 MiB (``kv/``), an SQLite database of about
256 MiB (``db.sqlite``).

Per workload, ``repeats`` rounds of one run of ``duration_s`` seconds per
policy, the policies in turn with the order rotated every round (the host
caches the loop device's image and the machine drifts: running one policy's
repeats back to back favoured whoever came later).  Before each run the
data files are evicted from the page cache with
``posix_fadvise(POSIX_FADV_DONTNEED)`` (never the global cache) and the
knob is reset.  The ML policy's proxy and agent are started once per
workload, run a warm-up run (reported as ``ml-cold``: it includes
learning) and live through the rounds, stepped only during their own runs
— a kernel's proxy would be running already.  Throughput is what the
workload reports (bytes given to the application over its run); the spread
over repeats is reported (the machine is noisy: 2 vCPUs shared with the
controller and the agent).  An epoch's units are the pages the application
was given: the drivers count them, fio's are the bytes the kernel counted
its processes reading (``rchar``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from kernelml.linux.readahead_drivers import group_read_bytes, read_progress
from kernelml.linux.readahead_live import KmlLiveController, LiveConfig, LiveEnv, MlSession
from kernelml.linux.sysio import CaptureError, KernelIO, Undo, interrupts_raise, kill_group

MIB = 1 << 20
POLICIES = ["default", "fixed-small", "fixed-large", "kml", "ml"]
FIXED_KB = {"fixed-small": 16, "fixed-large": 4096}


@dataclass
class LiveWorkload:
    name: str
    kind: str  # "driver" or "fio"
    args: list
    files: str  # data set the workload reads: seq, big, kv, db
    description: str = ""


def workloads(mount: str) -> dict[str, LiveWorkload]:
    seqd, kvd = os.path.join(mount, "seq"), os.path.join(mount, "kv")
    seqf = [os.path.join(seqd, f"f{i}") for i in range(8)]
    big, db = os.path.join(mount, "big.dat"), os.path.join(mount, "db.sqlite")
    fio_common = ["--directory=" + seqd, "--filename_format=f$filenum", "--nrfiles=8", "--filesize=128M",
                  "--openfiles=1", "--bs=4k", "--ioengine=psync", "--fadvise_hint=0", "--invalidate=0",
                  "--time_based", "--group_reporting", "--output-format=json"]
    W = [
        LiveWorkload("fio-seq", "fio", fio_common + ["--name=seq", "--rw=read", "--file_service_type=sequential"],
                     "seq", "fio: 4 KiB sequential reads, 8 files in turn (each opened when its turn comes)"),
        LiveWorkload("scan", "driver", ["scan"] + seqf + ["--bs", "16384"], "seq",
                     "16 KiB sequential reads, 8 files in turn"),
        LiveWorkload("strided", "driver", ["scan"] + seqf + ["--bs", "4096", "--stride", "32768"], "seq",
                     "4 KiB every 32 KiB, 8 files in turn"),
        LiveWorkload("lookup-pread", "driver", ["lookup", big, "--reopen-every", "256"], "big",
                     "random 4 KiB preads, reopened every 256"),
        LiveWorkload("lookup-mmap", "driver", ["lookup", big, "--mmap", "--reopen-every", "256"], "big",
                     "random 4 KiB touches through mmap, remapped every 256"),
        LiveWorkload("sqlite-scan", "driver", ["sqlite", db, "--op", "scan"], "db",
                     "SQLite full scans, a connection per scan"),
        LiveWorkload("sqlite-lookup", "driver", ["sqlite", db, "--op", "lookup", "--mmap-size", str(1 << 30),
                                                 "--batch", "200"], "db",
                     "SQLite point queries with mmap I/O, a connection per 200"),
        LiveWorkload("kv-readseq", "driver", ["kv", kvd, "--op", "readseq"], "kv", "db_bench readseq"),
        LiveWorkload("kv-readrandom", "driver", ["kv", kvd, "--op", "readrandom", "--mmap"], "kv",
                     "db_bench readrandom, mmap reads, 8 open tables"),
        LiveWorkload("kv-readrandomwriterandom", "driver", ["kv", kvd, "--op", "readrandomwriterandom"], "kv",
                     "db_bench readrandomwriterandom, pread gets"),
        LiveWorkload("kv-mix", "driver", ["kv", kvd, "--op", "mix", "--mmap", "--phase-s", "2"], "kv",
                     "readseq, readrandom, readrandomwriterandom in turn, 2 s each (mmap gets)"),
    ]
    return {w.name: w for w in W}


DEFAULT_WORKLOADS = ["fio-seq", "strided", "lookup-pread", "lookup-mmap", "sqlite-scan", "sqlite-lookup",
                     "kv-readseq", "kv-readrandom", "kv-readrandomwriterandom", "kv-mix"]
QUICK_WORKLOADS = ["scan", "lookup-mmap", "kv-mix"]


def _fill(path: str, size: int, block: bytes) -> None:
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, len(block))
            f.write(block[:n])
            left -= n


def prepare(mount: str, log=print, seed: int = 0, scale: float = 1.0) -> dict:
    """Write the data sets (once per environment)."""
    rng = np.random.default_rng(seed)
    block = rng.integers(0, 256, 4 * MIB, dtype=np.uint8).tobytes()
    t = time.time()
    os.makedirs(os.path.join(mount, "seq"), exist_ok=True)
    os.makedirs(os.path.join(mount, "kv"), exist_ok=True)
    files = {"seq": [], "big": [], "kv": [], "db": []}
    for i in range(8):
        p = os.path.join(mount, "seq", f"f{i}")
        _fill(p, int(128 * MIB * scale) // 4096 * 4096, block)
        files["seq"].append(p)
    p = os.path.join(mount, "big.dat")
    _fill(p, int(1024 * MIB * scale) // 4096 * 4096, block)
    files["big"].append(p)
    for i in range(16):
        p = os.path.join(mount, "kv", f"table{i:02d}.sst")
        _fill(p, int(32 * MIB * scale) // 4096 * 4096, block)
        files["kv"].append(p)
    db = os.path.join(mount, "db.sqlite")
    con = sqlite3_connect(db)
    rows = int(600_000 * scale)
    payload = block[:400]
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
    con.executemany("INSERT INTO t (id, v) VALUES (?, ?)", ((i + 1, payload) for i in range(rows)))
    con.commit()
    con.close()
    files["db"].append(db)
    os.sync()
    log(f"data written in {time.time() - t:.0f} s")
    return files


def sqlite3_connect(path: str):
    import sqlite3

    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA page_size=4096")
    return con


def evict(paths: list[str]) -> None:
    """posix_fadvise(POSIX_FADV_DONTNEED) on each file (never the global cache)."""
    for p in paths:
        try:
            fd = os.open(p, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def _all_files(files: dict) -> list[str]:
    return [p for v in files.values() for p in v] + [os.path.join(os.path.dirname(files["kv"][0]), "wal.log")]


@dataclass
class Runner:
    env: LiveEnv
    files: dict
    duration_s: float
    log: object = print
    procs: list = field(default_factory=list)

    def _spawn(self, w: LiveWorkload, progress: str) -> subprocess.Popen:
        if w.kind == "fio":
            argv = ["fio", f"--runtime={int(round(self.duration_s))}"] + w.args
        else:
            argv = [sys.executable, "-m", "kernelml.linux.readahead_drivers"] + w.args + [
                "--duration", str(self.duration_s), "--progress", progress]
        pre = self.env.memcg.preexec() if self.env.memcg else None
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                             start_new_session=True, preexec_fn=pre)
        self.procs.append(p)
        return p

    def kill_all(self) -> None:
        for p in self.procs:
            kill_group(p, grace=2.0)
        self.procs.clear()

    def run(self, w: LiveWorkload, controller=None) -> dict:
        evict(_all_files(self.files))
        prog = os.path.join(self.env.workdir, "progress")
        with open(prog, "wb") as f:
            f.write(b"\0" * 8)
        spawned: list = []
        if controller is not None and hasattr(controller, "ctl"):
            # the epochs' units: pages given to the application, as the workload counts them (the
            # drivers), or as the kernel counts its read() calls (fio) -- never the traced readahead
            # requests, whose number and size depend on the window the source chose
            if w.kind == "driver":
                controller.ctl.progress = lambda: read_progress(prog) // 4096
            else:
                controller.ctl.progress = lambda: group_read_bytes(spawned[0].pid) // 4096 if spawned else 0
        if controller is not None:
            controller.resume()
        p = self._spawn(w, prog)
        spawned.append(p)
        t0 = time.monotonic()
        hard = t0 + self.duration_s + 60
        while p.poll() is None:
            if controller is not None:
                controller.step()
            time.sleep(0.02)
            if time.monotonic() > hard:
                kill_group(p)
                raise CaptureError(f"{w.name} overran its time")
        out, err = p.communicate()
        self.procs.remove(p)
        wall = time.monotonic() - t0
        if p.returncode != 0:
            raise CaptureError(f"{w.name} failed ({p.returncode}): {err.decode(errors='replace')[-400:]}")
        if w.kind == "fio":
            j = json.loads(out.decode()[out.decode().index("{"):])
            rd = j["jobs"][0]["read"]
            return {"mib_s": rd["io_bytes"] / MIB / max(1e-9, rd["runtime"] / 1000), "bytes": rd["io_bytes"],
                    "wall_s": round(wall, 2)}
        r = json.loads(out.decode().strip().splitlines()[-1])
        r["wall_s"] = round(wall, 2)
        return r


def run_live_bench(workload_names: list[str], policies: list[str], repeats: int = 3, duration_s: float = 8.0,
                   memcg_mib: int = 256, scale: float = 1.0, device_size: int = 4 << 30, seed: int = 0,
                   log=print, io: KernelIO | None = None, cfg: LiveConfig | None = None) -> dict:
    io = io or KernelIO()
    cfg = cfg or LiveConfig()
    if not io.dry_run:
        if os.geteuid() != 0:
            raise CaptureError("the live bench needs root")
        missing = [t for t in ("losetup", "mkfs.ext4", "mount", "umount") if shutil.which(t) is None]
        if missing:
            raise CaptureError(f"missing tools: {', '.join(missing)}")
    undo = Undo()
    results: dict = {"runs": [], "meta": {}}
    with interrupts_raise():
        try:
            env = LiveEnv(io, None, device_size, memcg_bytes=memcg_mib * MIB, cfg=cfg)
            env.setup(undo)
            results["meta"]["env"] = env.describe()
            if io.dry_run:
                return {"dry_run": True, "actions": list(io.actions)}
            files = prepare(env.mountpoint, log, seed, scale)
            W = workloads(env.mountpoint)
            names = [n for n in workload_names if n in W]
            if shutil.which("fio") is None:
                skipped = [n for n in names if W[n].kind == "fio"]
                if skipped:
                    log(f"fio is not installed: skipping {', '.join(skipped)}")
                names = [n for n in names if W[n].kind != "fio"]
            runner = Runner(env, files, duration_s, log)
            undo.push("stop workloads", runner.kill_all)
            knob = env.knob
            for wn in names:
                w = W[wn]
                ses = kml_ctl = None
                if "ml" in policies:  # the proxy and its agent live through the workload's runs
                    ses = MlSession(env, undo, "readahead-window", seed)
                    time.sleep(0.5)  # the agent connects
                    knob.set_kb(knob.original_kb, force=True)
                    r = runner.run(w, ses)
                    r.update({"workload": wn, "policy": "ml-cold", "repeat": -1, "proxy": ses.ctl.summary()})
                    results["runs"].append(r)
                    log(f"  {wn:24s} {'ml-cold':12s} {r['mib_s']:9.1f} MiB/s ({r['proxy']['mode']})")
                if "kml" in policies:
                    kml_ctl = KmlLiveController(knob, env.tracer, cfg, env.dev_name)
                for rep in range(repeats):
                    k = rep % len(policies)  # policies in turn, the order rotated: the host's caches and
                    for pol in policies[k:] + policies[:k]:  # the machine drift over time
                        if env.tracer is not None:
                            env.tracer.read_bytes()  # drop the events of the gap
                        ctl = ses if pol == "ml" else kml_ctl if pol == "kml" else None
                        knob.set_kb(FIXED_KB.get(pol, knob.original_kb), force=True)
                        n0 = len(ses.ctl.epochs) if ses is not None else 0
                        r = runner.run(w, ctl)
                        r.update({"workload": wn, "policy": pol, "repeat": rep, "knob_kb_end": knob.current_kb})
                        if pol == "ml":
                            r["proxy"] = ses.ctl.summary(since=n0)
                        elif pol == "kml":
                            r["kml"] = kml_ctl.summary()
                        results["runs"].append(r)
                        extra = f" ({r['proxy']['mode']}, ML share {r['proxy']['ml_share']})" if pol == "ml" else ""
                        log(f"  {wn:24s} {pol:12s} {r['mib_s']:9.1f} MiB/s{extra}")
                if ses is not None:
                    ses.stop_agent()
                    ses.server.close()
                knob.set_kb(knob.original_kb, force=True)
            results["meta"]["knob"] = {"original_kb": knob.original_kb, "writes": knob.writes,
                                       "rate_limited": knob.rate_limited, "clamped": knob.clamped}
            return results
        finally:
            errors = undo.unwind()
            results["meta"]["restored"] = not errors
            if errors:
                results["meta"]["cleanup_errors"] = errors


def summarize(results: dict) -> dict:
    by: dict = {}
    for r in results["runs"]:
        by.setdefault(r["workload"], {}).setdefault(r["policy"], []).append(r["mib_s"])
    out = {}
    for wn, pols in by.items():
        base = float(np.mean(pols["default"])) if "default" in pols else float("nan")
        row = {}
        for p, v in pols.items():
            a = np.array(v, dtype=np.float64)
            row[p] = {"mean": float(a.mean()), "std": float(a.std(ddof=1)) if a.size > 1 else 0.0,
                      "min": float(a.min()), "max": float(a.max()), "n": int(a.size),
                      "ratio": float(a.mean() / base) if base > 0 else float("nan")}
        out[wn] = row
    return out


def markdown(summary: dict, meta: dict) -> str:
    cols = POLICIES[1:] + ["ml-cold"]
    lines = ["# Readahead: live runs on a loop device", "", f"Command: `{meta['command']}`  ",
             f"{meta.get('date', '')}: {meta.get('repeats')} repeats of {meta.get('duration_s')} s per workload and "
             f"policy; page cache capped at {meta.get('memcg_mib')} MiB (a memory cgroup); wall time "
             f"{meta.get('wall_s', 0):.0f} s.  Device: {meta.get('env', {}).get('device')} (kernel default "
             f"read_ahead_kb {meta.get('env', {}).get('original_kb')}).", "",
             "Throughput in MiB/s as the workload reports it: mean ± standard deviation over the repeats "
             "(ratio to the kernel default's mean).  `ml-cold`: the ML proxy's first (warm-up) run on the "
             "workload, learning included.", "",
             "| workload | default | " + " | ".join(cols) + " |", "|---|---:|" + "---:|" * len(cols)]
    for wn, row in summary.items():
        d = row.get("default")
        cells = [f"{d['mean']:.1f} ± {d['std']:.1f}" if d else ""]
        for c in cols:
            x = row.get(c)
            cells.append(f"{x['mean']:.1f} ± {x['std']:.1f} ({x['ratio']:.2f}x)" if x else "")
        lines.append(f"| {wn} | " + " | ".join(cells) + " |")
    lines.append("")
    return "\n".join(lines)


def plot(summary: dict, meta: dict, out: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(summary)
    pols = [p for p in POLICIES + ["ml-cold"] if any(p in summary[w] for w in names)]
    fig, ax = plt.subplots(figsize=(12, 4.5))
    x = np.arange(len(names))
    wd = 0.8 / max(1, len(pols))
    for i, p in enumerate(pols):
        m = [summary[w].get(p, {}).get("ratio", np.nan) for w in names]
        base = [summary[w].get("default", {}).get("mean", np.nan) for w in names]
        err = [summary[w].get(p, {}).get("std", 0.0) / b if b and b == b else 0.0 for w, b in zip(names, base)]
        ax.bar(x + i * wd - 0.4 + wd / 2, m, wd, yerr=err, capsize=2, label=p)
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_yscale("log")
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set_ylabel("throughput / kernel default")
    ax.set_title(f"live readahead, {meta.get('repeats')} x {meta.get('duration_s')} s per bar (std as error bar)")
    ax.legend(ncol=6, fontsize=8)
    fig.tight_layout()
    path = os.path.join(out, "live_ratios.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
