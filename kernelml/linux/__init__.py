"""Optional adapters to a real Linux kernel: capture block and memory traces
of real programs (``kernelml capture``).

* :mod:`.sysio` -- every kernel-facing action (dry-run, failure injection,
  the undo stack that cleans up on error and on signals);
* :mod:`.loopdev` -- a file system on a private loop device;
* :mod:`.tracefs` -- a private tracefs instance with block tracepoints;
* :mod:`.blockcapture` -- runs a workload and streams its block requests to
  a ``.kmt`` trace (format and reader: :mod:`kernelml.workloads.kmt`);
* :mod:`.workloads_real` -- the real programs (PostgreSQL/pgbench, SQLite,
  fio, git and builds);
* :mod:`.memcapture` -- valgrind lackey -> page traces, converted while
  streaming;
* :mod:`.stale` -- leftovers of captures that were killed;
* :mod:`.corpus` -- facts about the shipped traces (``data/traces``) and the
  README tables generated from them;
* :mod:`.progs` -- programs the workloads run as separate processes.

Nothing here is imported by the simulators; everything needs root except
the memory capture (valgrind) and the readers.
"""
