"""The full flow as separate processes: the kernel side (an LFS device and its
ML model proxy behind a real channel), the agent daemon, and the tools that
start, watch and break them.

* :mod:`.kernel_side` — ``kernelml kernel``: the kernel side as its own
  process, as fast as it can, never waiting for the agent; JSON status lines.
* :mod:`.agentd` — ``kernelml agent``: the agent daemon (reconnects,
  checkpoints, Prometheus metrics, structured logs, fault injection).
* :mod:`.status` — the status line format, writer and tail reader.
* :mod:`.procs` — starting and stopping the two processes (demo, tests).
* :mod:`.live` — the ``kernelml demo`` live view.

This package sees both sides only to wire them together, as ``bench/``
does: the agent daemon reaches the kernel side through uapi frames only.
"""
