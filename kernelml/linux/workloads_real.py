"""Real programs to run on the traced file system (``kernelml capture block``).

Each workload is a class with its parameters and defaults in
``defaults`` (units in the names or the docstring), registered by name in
:data:`BLOCK_WORKLOADS`.  ``prepare(ctx)`` runs before tracing starts
(inputs made outside the traced device); ``run(ctx)`` is traced and returns
when ``ctx.duration_s`` has passed for its main phase (setup phases such as
a database load come on top; they are marked in the trace's ``phases``).
Parameters are given on the command line as ``-p key=value``.

===================  ==========================================================
``pgbench``          PostgreSQL (initdb'd private cluster in the mount, run as
                     the ``postgres`` user, Unix socket in the mount) + pgbench
                     TPC-B-like transactions
``sqlite``           SQLite in WAL mode with an OLTP mix
                     (:mod:`kernelml.linux.progs.sqlite_oltp`)
``fio-zipf``         fio random writes, Zipf-distributed offsets, buffered
                     (page cache + writeback, fsync every ``fsync`` writes)
``fio-zipf-direct``  the same with O_DIRECT (libaio, queue depth ``iodepth``)
``git``              a source tree: git clone, commits, checkouts of old
                     revisions, incremental builds (make + gcc, Python
                     compileall), tar archives, ``git gc``
``dd``               one process rewriting a file with 4 KiB writes, in
                     Python (a few-seconds smoke test: the root-only tests)
===================  ==========================================================
"""

from __future__ import annotations

import glob
import os
import pwd
import random
import shutil
import sys
import time

from kernelml.linux.sysio import CaptureError
from kernelml.registry import Registry


def real_python() -> str:
    """The interpreter binary itself (a pyenv shim is a shell script)."""
    exe = os.path.realpath(sys.executable)
    with open(exe, "rb") as f:
        if f.read(4) == b"\x7fELF":
            return exe
    for cand in (os.path.realpath(os.path.join(sys.prefix, "bin", "python3")), shutil.which("python3") or ""):
        if cand and os.path.exists(cand):
            with open(cand, "rb") as f:
                if f.read(4) == b"\x7fELF":
                    return cand
    return exe


class RealWorkload:
    """Base: parameters, tools, untraced preparation, traced run."""

    name = "?"
    defaults: dict = {}

    def resolve(self, params: dict, size_bytes: int) -> dict:
        unknown = set(params) - set(self.defaults)
        if unknown:
            raise ValueError(f"{self.name}: unknown parameters {sorted(unknown)}; "
                             f"known: {', '.join(sorted(self.defaults))}")
        out = dict(self.defaults)
        for k, v in params.items():
            d = self.defaults[k]
            if isinstance(d, bool):
                v = str(v).lower() in ("1", "true", "yes", "on")
            elif isinstance(d, int) and not isinstance(d, bool):
                v = int(v)
            elif isinstance(d, float):
                v = float(v)
            out[k] = v
        return out

    def tools(self, params: dict) -> list[str]:
        return []

    def describe_commands(self, params: dict) -> list[str]:
        return [f"{self.name} {params}"]

    def prepare(self, ctx) -> None:
        pass

    def run(self, ctx) -> None:  # pragma: no cover
        raise NotImplementedError

    def versions(self, params: dict) -> dict:
        """Versions of the programs the workload runs (for the trace header)."""
        return {}


def tool_version(argv: list[str]) -> str:
    import subprocess

    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "?"
    return ((p.stdout or p.stderr).strip().splitlines() or ["?"])[0]


# ---------------------------------------------------------------- fio
class FioZipf(RealWorkload):
    """fio random writes with Zipf-distributed offsets, buffered.

    Parameters: ``file_frac`` (file size as a share of the device, 0.5),
    ``bs`` (block size, ``4k``), ``zipf`` (theta, 1.2), ``fsync`` (fsync
    after this many writes; 0 leaves it to writeback), ``rate_iops`` (cap,
    0 = none), ``iodepth`` (direct only), ``direct`` (O_DIRECT).  fio first
    lays the file out (one sequential write of it: the ``load`` phase is
    the start of ``run``), then writes for ``duration``.  Offsets: fio's
    Zipf generator with ``randseed`` = the capture seed, ``norandommap``."""

    name = "fio-zipf"
    defaults = {"file_frac": 0.5, "bs": "4k", "zipf": 1.2, "fsync": 128, "rate_iops": 0,
                "iodepth": 8, "direct": False}

    def _argv(self, ctx_mount: str, workdir: str, duration: float, size_bytes: int, p: dict, seed: int):
        fsize = int(size_bytes * float(p["file_frac"])) // (1 << 20) * (1 << 20)
        argv = ["fio", "--name=zipf", f"--directory={ctx_mount}", "--filename=zipf.dat", f"--size={fsize}",
                "--rw=randwrite", f"--bs={p['bs']}", f"--random_distribution=zipf:{p['zipf']}",
                "--norandommap", f"--randseed={seed}", "--time_based", f"--runtime={max(1, int(duration))}s",
                "--output-format=json", f"--output={os.path.join(workdir, 'fio.json')}"]
        if p["direct"]:
            argv += ["--direct=1", "--ioengine=libaio", f"--iodepth={p['iodepth']}"]
        else:
            argv += ["--direct=0", "--ioengine=psync"]
            if p["fsync"]:
                argv.append(f"--fsync={p['fsync']}")
        if p["rate_iops"]:
            argv.append(f"--rate_iops={p['rate_iops']}")
        return argv

    def resolve(self, params: dict, size_bytes: int) -> dict:
        p = super().resolve(params, size_bytes)
        if not 0 < float(p["file_frac"]) <= 0.9:
            raise ValueError("file_frac must be in (0, 0.9]")
        return p

    def tools(self, params):
        return ["fio"]

    def versions(self, params):
        return {"fio": tool_version(["fio", "--version"])}

    def describe_commands(self, params):
        return [" ".join(self._argv("<mnt>", "<tmp>", 0, 0, params, 0))]

    def run(self, ctx) -> None:
        ctx.phase("run")
        p = ctx.run(self._argv(ctx.mountpoint, ctx.workdir, ctx.duration_s, ctx.size_bytes, ctx.params, ctx.seed),
                    timeout=ctx.duration_s + 600)
        del p


class FioZipfDirect(FioZipf):
    """fio Zipf random writes with O_DIRECT (libaio, ``iodepth`` deep); see ``fio-zipf``."""

    name = "fio-zipf-direct"
    defaults = dict(FioZipf.defaults, direct=True, fsync=0)


# ---------------------------------------------------------------- a tiny writer (tests)
class DdWriter(RealWorkload):
    """A Python process rewriting a file with 4 KiB writes and fsyncs.

    Parameters: ``file_mib`` (8), ``passes`` (sequential passes over the file,
    2), ``fsync_every`` (writes between fsyncs, 256).  Stops at the duration
    or after the passes, whichever comes first.  For smoke tests."""

    name = "dd"
    defaults = {"file_mib": 8, "passes": 2, "fsync_every": 256}

    def versions(self, params):
        return {"python": sys.version.split()[0]}

    def run(self, ctx) -> None:
        ctx.phase("run")
        p = ctx.params
        code = (
            "import os,sys,time\n"
            "path,secs=sys.argv[1],float(sys.argv[5])\n"
            "mib,passes,every=int(sys.argv[2]),int(sys.argv[3]),int(sys.argv[4])\n"
            "fd=os.open(path,os.O_WRONLY|os.O_CREAT,0o644); buf=b'k'*4096; t0=time.monotonic(); n=0\n"
            "for _ in range(passes):\n"
            "    os.lseek(fd,0,0)\n"
            "    for i in range(mib*256):\n"
            "        os.write(fd,buf); n+=1\n"
            "        if n%every==0: os.fsync(fd)\n"
            "        if time.monotonic()-t0>secs: break\n"
            "os.fsync(fd); os.close(fd)\n")
        ctx.run([real_python(), "-c", code, os.path.join(ctx.mountpoint, "dd.dat"), str(p["file_mib"]),
                 str(p["passes"]), str(p["fsync_every"]), str(ctx.duration_s)], timeout=ctx.duration_s + 120)


# ---------------------------------------------------------------- sqlite
class SqliteOLTP(RealWorkload):
    """SQLite in WAL mode with an OLTP mix (:mod:`kernelml.linux.progs.sqlite_oltp`).

    Parameters: ``rows`` (accounts, 200000), ``payload`` (bytes per account,
    200), ``txn`` (operations per transaction, 8), ``mix`` (per cent,
    ``update:60,insert:20,delete:10,select:10``), ``zipf`` (key skew,
    1.1), ``synchronous`` (``NORMAL``), ``wal_autocheckpoint`` (pages,
    1000), ``cache_kib`` (8192).  Phases: ``load`` then ``run``."""

    name = "sqlite"
    defaults = {"rows": 200_000, "payload": 200, "txn": 8, "mix": "update:60,insert:20,delete:10,select:10",
                "zipf": 1.1, "synchronous": "NORMAL", "wal_autocheckpoint": 1000, "cache_kib": 8192}

    def _argv(self, db: str, seconds: float, p: dict, seed: int) -> list[str]:
        return [real_python(), "-m", "kernelml.linux.progs.sqlite_oltp", db, "--seconds", str(seconds),
                "--rows", str(p["rows"]), "--payload", str(p["payload"]), "--txn", str(p["txn"]),
                "--mix", p["mix"], "--zipf", str(p["zipf"]), "--synchronous", p["synchronous"],
                "--wal-autocheckpoint", str(p["wal_autocheckpoint"]), "--cache-kib", str(p["cache_kib"]),
                "--seed", str(seed)]

    def describe_commands(self, params):
        return [" ".join(self._argv("<mnt>/oltp.db", 0, params, 0))]

    def versions(self, params):
        import sqlite3

        return {"sqlite": sqlite3.sqlite_version, "python": sys.version.split()[0]}

    def run(self, ctx) -> None:
        import subprocess

        env = dict(os.environ, PYTHONPATH=os.pathsep.join([_package_root()] + sys.path))
        proc = ctx.spawn(self._argv(os.path.join(ctx.mountpoint, "oltp.db"), ctx.duration_s, ctx.params, ctx.seed),
                         cwd=ctx.workdir, env=env, stdout=subprocess.PIPE)
        for line in proc.stdout:
            text = line.decode(errors="replace").strip()
            if text.startswith("phase "):
                ctx.phase(text.split(None, 1)[1])
            elif text.startswith("{"):
                ctx.log(f"sqlite: {text}")
        rc = ctx.wait(proc)
        if rc != 0 and not ctx.stop.is_set():
            raise CaptureError(f"sqlite workload failed ({rc}): {proc.stderr.read().decode(errors='replace')[-600:]}")


def _package_root() -> str:
    import kernelml

    return os.path.dirname(os.path.dirname(os.path.abspath(kernelml.__file__)))


# ---------------------------------------------------------------- pgbench
def _pg_bin() -> str | None:
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda s: int(s.split("/")[-2]), reverse=True):
        if os.path.exists(os.path.join(d, "initdb")):
            return d
    p = shutil.which("initdb")
    return os.path.dirname(p) if p else None


class PgBench(RealWorkload):
    """PostgreSQL + pgbench (TPC-B-like) on a private cluster.

    Parameters: ``scale`` (pgbench scale factor: 100000 accounts, about
    15 MiB per unit, 10), ``clients`` (4), ``threads`` (2), ``rate`` (tps
    cap, 0 = none), ``shared_buffers`` (``32MB``: small, so data pages reach
    the disk at every checkpoint), ``checkpoint_timeout`` (``30s``),
    ``max_wal_size`` (``96MB``: WAL segments are recycled, i.e. rewritten
    in place), ``min_wal_size`` (``32MB``), ``synchronous_commit``
    (``on``), ``user`` (``postgres``; ``nobody`` if absent).  The cluster
    is made with initdb in the mount, the Unix socket lives in the mount,
    no TCP; it is stopped (a shutdown checkpoint) at the end, and by
    ``pg_ctl stop -m immediate`` when the capture is interrupted.  Phases:
    ``initdb``, ``start``, ``load`` (``pgbench -i``), ``run``, ``stop``."""

    name = "pgbench"
    defaults = {"scale": 10, "clients": 4, "threads": 2, "rate": 0, "shared_buffers": "32MB",
                "checkpoint_timeout": "30s", "max_wal_size": "96MB", "min_wal_size": "32MB",
                "synchronous_commit": "on", "user": "postgres", "setup_allowance_s": 600.0}

    def tools(self, params):
        return ["runuser"] + ([] if _pg_bin() else ["initdb (PostgreSQL)"])

    def describe_commands(self, params):
        b = _pg_bin() or "<pg bin>"
        return [f"{b}/initdb -D <mnt>/pgdata", f"{b}/pg_ctl start", f"{b}/pgbench -i -s {params['scale']}",
                f"{b}/pgbench -c {params['clients']} -j {params['threads']} -T <duration>", f"{b}/pg_ctl stop"]

    def versions(self, params):
        b = _pg_bin()
        return {"postgres": tool_version([f"{b}/postgres", "--version"]) if b else "?",
                "pgbench": tool_version([f"{b}/pgbench", "--version"]) if b else "?"}

    def _user(self, p: dict) -> str:
        for u in (p["user"], "nobody"):
            try:
                pwd.getpwnam(u)
                return u
            except KeyError:
                continue
        raise CaptureError("no user to run PostgreSQL as (give -p user=NAME)")

    def run(self, ctx) -> None:
        p = ctx.params
        b = _pg_bin()
        if b is None:
            raise CaptureError("PostgreSQL not found (apt install postgresql)")
        user = self._user(p)
        pw = pwd.getpwnam(user)
        data = os.path.join(ctx.mountpoint, "pgdata")
        sock = os.path.join(ctx.mountpoint, "sock")
        logf = os.path.join(ctx.workdir, "postgres.log")
        for d in (data, sock):
            os.mkdir(d, 0o700)
            os.chown(d, pw.pw_uid, pw.pw_gid)
        with open(logf, "w"):
            pass
        os.chown(logf, pw.pw_uid, pw.pw_gid)
        env = dict(os.environ, LC_ALL="C", PGHOST=sock, PGUSER="kernelml", PGDATABASE="postgres",
                   PGPORT="5432", HOME=ctx.workdir)
        ctx.phase("initdb")
        ctx.run([f"{b}/initdb", "-D", data, "-U", "kernelml", "-A", "trust", "-E", "UTF8", "--locale=C",
                 "--no-instructions"], user=user, env=env, cwd=ctx.workdir, timeout=300)
        with open(os.path.join(data, "postgresql.conf"), "a") as f:
            f.write("\n# kernelml capture\n"
                    "listen_addresses = ''\n"
                    f"unix_socket_directories = '{sock}'\n"
                    f"shared_buffers = {p['shared_buffers']}\n"
                    f"checkpoint_timeout = {p['checkpoint_timeout']}\n"
                    f"max_wal_size = {p['max_wal_size']}\n"
                    f"min_wal_size = {p['min_wal_size']}\n"
                    f"synchronous_commit = {p['synchronous_commit']}\n"
                    "log_checkpoints = on\n"
                    "huge_pages = off\n")

        def stop_server():
            if os.path.exists(os.path.join(data, "postmaster.pid")):
                import subprocess
                for mode in ("fast", "immediate"):
                    r = subprocess.run(["runuser", "-u", user, "--", f"{b}/pg_ctl", "-D", data, "-m", mode,
                                        "-w", "-t", "60", "stop"], capture_output=True, env=env)
                    if r.returncode == 0:
                        break

        ctx.phase("start")
        ctx.on_stop(stop_server)
        ctx.run([f"{b}/pg_ctl", "-D", data, "-l", logf, "-w", "-t", "120", "start"], user=user, env=env,
                cwd=ctx.workdir, timeout=180)
        ctx.phase("load")
        ctx.run([f"{b}/pgbench", "-i", "-q", "-s", str(p["scale"])], user=user, env=env, cwd=ctx.workdir,
                timeout=p["setup_allowance_s"])
        ctx.phase("run")
        argv = [f"{b}/pgbench", "-c", str(p["clients"]), "-j", str(p["threads"]), "-T",
                str(max(1, int(ctx.duration_s)))]
        if p["rate"]:
            argv += ["-R", str(p["rate"])]
        out = ctx.run(argv, user=user, env=env, cwd=ctx.workdir, timeout=ctx.duration_s + 300)
        tps = [ln for ln in out.splitlines() if ln.startswith("tps") or "transactions actually" in ln]
        ctx.log("pgbench: " + "; ".join(tps))
        ctx.phase("stop")
        ctx.run([f"{b}/pg_ctl", "-D", data, "-m", "fast", "-w", "-t", "120", "stop"], user=user, env=env,
                cwd=ctx.workdir, timeout=180)


# ---------------------------------------------------------------- source tree
_C_TEMPLATE = """#include <stdint.h>
#include "common.h"

/* {name}: generated, revision {rev} */
"""
_PY_TEMPLATE = '"""{name}: generated, revision {rev}."""\n\n'


def _c_func(rng: random.Random, name: str, k: int) -> str:
    a, b, c = rng.randrange(1, 97), rng.randrange(1, 89), rng.randrange(3, 17)
    return (f"uint64_t {name}_f{k}(uint64_t x) {{\n"
            f"    uint64_t acc = {a}u;\n"
            f"    for (int i = 0; i < {c}; i++) {{\n"
            f"        acc = acc * {b}u + (x >> (i % 7)) ^ {rng.randrange(1, 1 << 30)}u;\n"
            f"    }}\n    return acc;\n}}\n\n")


def _py_func(rng: random.Random, name: str, k: int) -> str:
    a, b = rng.randrange(1, 97), rng.randrange(1, 89)
    return (f"def {name}_f{k}(x, table=({', '.join(str(rng.randrange(1000)) for _ in range(6))})):\n"
            f"    acc = {a}\n    for i, t in enumerate(table):\n"
            f"        acc = (acc * {b} + t + (x >> (i % 5))) % {rng.randrange(10**6, 10**7)}\n"
            f"    return acc\n\n\n")


def write_source_file(path: str, rng: random.Random, rev: int) -> None:
    name = os.path.splitext(os.path.basename(path))[0]
    n = max(2, int(rng.lognormvariate(2.3, 0.8)))  # functions per file (median ~10)
    if path.endswith(".c"):
        text = _C_TEMPLATE.format(name=name, rev=rev) + "".join(_c_func(rng, name, k) for k in range(n))
    else:
        text = _PY_TEMPLATE.format(name=name, rev=rev) + "".join(_py_func(rng, name, k) for k in range(n))
    with open(path, "w") as f:
        f.write(text)


_MAKEFILE = """# generated by kernelml capture (git workload)
SRC := $(wildcard src/*.c)
OBJ := $(patsubst src/%.c,build/%.o,$(SRC))
all: build/libtree.a
build:
\tmkdir -p build
build/%.o: src/%.c src/common.h | build
\t$(CC) -O1 -c -Isrc -o $@ $<
build/libtree.a: $(OBJ)
\trm -f $@ && ar rcs $@ $(OBJ)
clean:
\trm -rf build
.PHONY: all clean
"""


def generate_repo(path: str, seed: int = 0, files: int = 160, commits: int = 40) -> dict:
    """A deterministic git repository with a history: ``files`` source files
    (half C, half Python, a Makefile), then ``commits`` commits each
    rewriting about 5 % of the files, adding and removing a few.  Returns
    {files, commits}."""
    import subprocess

    rng = random.Random(seed)
    env = dict(os.environ, GIT_AUTHOR_NAME="kernelml", GIT_AUTHOR_EMAIL="kernelml@localhost",
               GIT_COMMITTER_NAME="kernelml", GIT_COMMITTER_EMAIL="kernelml@localhost",
               GIT_AUTHOR_DATE="2026-01-01T00:00:00Z", GIT_COMMITTER_DATE="2026-01-01T00:00:00Z")

    def git(*args):
        subprocess.run(["git", "-C", path, *args], check=True, capture_output=True, env=env)

    os.makedirs(os.path.join(path, "src"))
    git("init", "-q", "-b", "main")
    with open(os.path.join(path, "Makefile"), "w") as f:
        f.write(_MAKEFILE)
    with open(os.path.join(path, "src", "common.h"), "w") as f:
        f.write("#pragma once\n#include <stdint.h>\n")
    names = [os.path.join(path, "src", f"mod{i:04d}.{'c' if i % 2 == 0 else 'py'}") for i in range(files)]
    for n in names:
        write_source_file(n, rng, 0)
    git("add", "-A")
    git("commit", "-q", "-m", "initial tree")
    nxt = files
    for rev in range(1, commits + 1):
        for n in rng.sample(names, max(1, len(names) // 20)):
            write_source_file(n, rng, rev)
        if rng.random() < 0.5:
            n = os.path.join(path, "src", f"mod{nxt:04d}.{'c' if nxt % 2 == 0 else 'py'}")
            nxt += 1
            write_source_file(n, rng, rev)
            names.append(n)
        if rng.random() < 0.3 and len(names) > 8:
            victim = names.pop(rng.randrange(len(names)))
            os.unlink(victim)
        git("add", "-A")
        git("commit", "-q", "-m", f"revision {rev}")
    return {"files": len(names), "commits": commits + 1}


class SourceTree(RealWorkload):
    """A source tree under version control and its builds.

    ``repo``: ``generated`` (default: :func:`generate_repo` with the
    capture's seed, ``gen_files`` files, ``gen_commits`` commits, made in
    the temporary directory before tracing) or a path to a local git
    repository (``.`` = this kernelml checkout).  Traced: ``git clone
    --no-local`` into the mount (phase ``clone``), then until the duration
    is over (phase ``churn``), iterations of: edit ``edits`` files and
    commit; an incremental build (``make -j2``: gcc ``-O1`` per C file and
    ``ar``, when the tree has a Makefile and gcc exists; ``python -m
    compileall`` for Python files); a tar archive of the tree
    (``archives`` rotating names); every ``checkout_every`` iterations a
    checkout of an older revision and a build there, then back; every
    ``gc_every`` iterations ``git gc`` and ``git clean -fdx`` (a clean
    rebuild follows).  ``git_fsync``: git's own ``core.fsync`` setting
    (``all``: objects, packs, index and refs are fsynced, as git does when
    configured for durability; ``none`` to leave it to writeback).
    ``sync_every``: ``sync -f`` of the file system after every N iterations
    (default 1), so build outputs reach the device before the next
    iteration replaces them, as they would with less memory or a shorter
    ``dirty_expire_centisecs``; 0 leaves them to the kernel's writeback
    (data younger than 30 s that is deleted never reaches the device)."""

    name = "git"
    defaults = {"repo": "generated", "gen_files": 160, "gen_commits": 40, "edits": 6, "checkout_every": 4,
                "gc_every": 12, "archives": 3, "git_fsync": "all", "sync_every": 1, "setup_allowance_s": 120.0}

    def tools(self, params):
        return ["git", "tar"]

    def versions(self, params):
        return {"git": tool_version(["git", "--version"]), "gcc": tool_version(["gcc", "--version"]),
                "make": tool_version(["make", "--version"]), "tar": tool_version(["tar", "--version"]),
                "python": sys.version.split()[0]}

    def describe_commands(self, params):
        return [f"git clone --no-local {params['repo']} <mnt>/tree", "edit+commit, make -j2, compileall, tar, "
                "checkout old revisions, git gc (loop)"]

    def prepare(self, ctx) -> None:
        p = ctx.params
        if p["repo"] == "generated":
            src = os.path.join(ctx.workdir, "origin")
            info = generate_repo(src, seed=ctx.seed, files=int(p["gen_files"]), commits=int(p["gen_commits"]))
            ctx.log(f"generated repository: {info}")
        else:
            src = _package_root() if p["repo"] == "." else os.path.abspath(p["repo"])
            if not os.path.isdir(os.path.join(src, ".git")) and not src.endswith(".git"):
                raise CaptureError(f"{src} is not a git repository")
        self.src = src

    def run(self, ctx) -> None:
        p = ctx.params
        rng = random.Random(ctx.seed + 1)
        env = dict(os.environ, GIT_AUTHOR_NAME="kernelml", GIT_AUTHOR_EMAIL="kernelml@localhost",
                   GIT_COMMITTER_NAME="kernelml", GIT_COMMITTER_EMAIL="kernelml@localhost",
                   HOME=ctx.workdir, GIT_CONFIG_NOSYSTEM="1")
        tree = os.path.join(ctx.mountpoint, "tree")
        archives = os.path.join(ctx.mountpoint, "archives")
        ctx.phase("clone")
        ctx.run(["git", "clone", "-q", "--no-local", self.src, tree], env=env, timeout=600)
        os.mkdir(archives)
        revs = ctx.run(["git", "-C", tree, "rev-list", "--reverse", "HEAD"], env=env).split()
        ctx.run(["git", "-C", tree, "checkout", "-q", "-b", "work"], env=env)
        if p["git_fsync"] != "none":
            ctx.run(["git", "-C", tree, "config", "core.fsync", str(p["git_fsync"])], env=env)
            ctx.run(["git", "-C", tree, "config", "core.fsyncMethod", "fsync"], env=env)
        has_make = os.path.exists(os.path.join(tree, "Makefile")) and shutil.which("make") and shutil.which("gcc")

        def build():
            if has_make:
                ctx.run(["make", "-s", "-j2", "-C", tree], env=env, timeout=600, check=False)
            ctx.run([real_python(), "-m", "compileall", "-q", "-x", r"/\.git/", tree], env=env, timeout=600,
                    check=False)

        ctx.phase("churn")
        t0 = time.monotonic()
        it = 0
        while ctx.remaining(t0) > 0 and not ctx.stop.is_set():
            it += 1
            files = [f for f in _tracked(ctx, tree, env) if f.endswith((".c", ".py"))]
            for f in rng.sample(files, min(len(files), int(p["edits"]))):
                write_source_file(os.path.join(tree, f), rng, 1000 + it)
            ctx.run(["git", "-C", tree, "commit", "-q", "-a", "-m", f"edit {it}"], env=env, check=False)
            build()
            ctx.run(["tar", "-cf", os.path.join(archives, f"tree-{it % int(p['archives'])}.tar"),
                     "--exclude=.git", "-C", tree, "."], env=env, timeout=600, check=False)
            if it % int(p["checkout_every"]) == 0 and revs:
                old = revs[(it // int(p["checkout_every"])) * 7 % len(revs)]
                ctx.run(["git", "-C", tree, "checkout", "-q", old], env=env, check=False)
                build()
                ctx.run(["git", "-C", tree, "checkout", "-q", "work"], env=env, check=False)
            if it % int(p["gc_every"]) == 0:
                ctx.run(["git", "-C", tree, "gc", "-q"], env=env, timeout=600, check=False)
                ctx.run(["git", "-C", tree, "clean", "-q", "-f", "-d", "-x"], env=env, check=False)
            if int(p["sync_every"]) and it % int(p["sync_every"]) == 0:
                ctx.run(["sync", "-f", ctx.mountpoint], env=env, timeout=600, check=False)
        ctx.log(f"git: {it} iterations")


def _tracked(ctx, tree: str, env: dict) -> list[str]:
    return ctx.run(["git", "-C", tree, "ls-files"], env=env).split()


BLOCK_WORKLOADS = Registry("block capture workload", {
    "pgbench": "kernelml.linux.workloads_real:PgBench",
    "sqlite": "kernelml.linux.workloads_real:SqliteOLTP",
    "fio-zipf": "kernelml.linux.workloads_real:FioZipf",
    "fio-zipf-direct": "kernelml.linux.workloads_real:FioZipfDirect",
    "git": "kernelml.linux.workloads_real:SourceTree",
    "dd": "kernelml.linux.workloads_real:DdWriter",
})


def workload_params_doc() -> list[tuple[str, dict, str]]:
    """(name, defaults, first docstring line) of every registered workload."""
    out = []
    for name in BLOCK_WORKLOADS.names():
        cls = BLOCK_WORKLOADS.get(name)
        out.append((name, dict(cls.defaults), (cls.__doc__ or "").strip().splitlines()[0]))
    return out


__all__ = ["BLOCK_WORKLOADS", "RealWorkload", "generate_repo", "real_python", "workload_params_doc"]
