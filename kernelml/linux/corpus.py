"""The shipped trace corpus (``data/traces``): facts and README tables.

``python -m kernelml.linux.corpus readme [DIR]`` reads every ``*.kmt`` and
``*.pages*`` file in DIR (default ``data/traces``) and rewrites the parts
of ``DIR/README.md`` between ``<!-- corpus:block -->`` /
``<!-- corpus:mem -->`` and ``<!-- /corpus -->`` with a table and the
exact command, kernel, file system and parameters of each file, all taken
from the files' own headers and trailers (so the README cannot drift from
the data).  ``python -m kernelml.linux.corpus check [DIR]`` verifies that.
"""

from __future__ import annotations

import json
import os
import re
import sys

from kernelml.workloads.kmt import KmtFile, open_kmt


def block_facts(path: str) -> dict:
    kf = KmtFile(path)
    scan = kf.scan()
    w = open_kmt(path)
    st = w.scan()
    h, tr = kf.header, kf.trailer or {}
    span_s = ((scan["last_ns"] or 0) - (scan["first_ns"] or 0)) / 1e9
    return {
        "file": os.path.basename(path), "bytes": os.path.getsize(path), "workload": h.get("workload"),
        "command": h.get("command", ""), "kernel": h.get("kernel"), "fs": h.get("fs"),
        "device_mib": h.get("size_bytes", 0) >> 20, "duration_s": h.get("duration_s"), "params": h.get("params", {}),
        "versions": h.get("versions", {}), "date": h.get("date"), "records": scan["records"],
        "events_per_s": tr.get("events_per_s"), "span_s": round(span_s, 1), "count": scan["count"],
        "mib_written": round(scan["bytes"].get("write", 0) / 2**20, 1),
        "mib_discarded": round(scan["bytes"].get("discard", 0) / 2**20, 1),
        "write_blocks": st.write_blocks, "trim_blocks": st.trim_blocks, "distinct_blocks": st.distinct_blocks,
        "overwrite": round(st.write_blocks / max(1, st.distinct_blocks), 2),
        "lost": tr.get("lost_events"), "overrun": tr.get("overrun"), "dropped": tr.get("dropped_events"),
        "interrupted": tr.get("interrupted"), "truncated": scan["truncated"],
        "phases": [p["name"] for p in tr.get("phases", [])],
    }


def mem_facts(path: str) -> dict:
    from kernelml.linux.memcapture import read_pages_header
    from kernelml.workloads import open_page_trace

    h = read_pages_header(path)
    s = h.get("summary", {})
    w = open_page_trace(path, "pages", fold="none")
    return {
        "file": os.path.basename(path), "bytes": os.path.getsize(path), "workload": h.get("workload"),
        "command": h.get("command", ""), "kernel": h.get("kernel"), "params": h.get("params", {}),
        "valgrind": h.get("valgrind"), "date": h.get("date"), "accesses": s.get("accesses"),
        "records": s.get("records"), "duration_us": s.get("duration_us"), "capped": s.get("capped"),
        "accesses_per_us": h.get("accesses_per_us"), "window_us": h.get("window_us"),
        "distinct_pages": w.stats.distinct_pages, "write_share": round(w.stats.writes / max(1, w.stats.records), 3),
        "start_marker": h.get("start_marker"), "program": h.get("program"),
    }


def trace_files(d: str) -> tuple[list[str], list[str]]:
    names = sorted(os.listdir(d))
    block = [os.path.join(d, n) for n in names if n.endswith(".kmt")]
    mem = [os.path.join(d, n) for n in names if re.search(r"\.pages(\.gz|\.xz)?$", n)]
    return block, mem


def _kib(n: int) -> str:
    return f"{n / 1024:,.0f} KiB"


def block_section(facts: list[dict]) -> str:
    out = ["| file | size | workload | fs, device | events | written | discarded | write blocks / distinct "
           "| lost / overrun / dropped |", "|---|---|---|---|---|---|---|---|---|"]
    for f in facts:
        out.append(f"| `{f['file']}` | {_kib(f['bytes'])} | {f['workload']} | {f['fs']}, {f['device_mib']} MiB "
                   f"| {f['records']:,} ({f['span_s']} s) | {f['mib_written']:,} MiB | {f['mib_discarded']:,} MiB "
                   f"| {f['write_blocks']:,} / {f['distinct_blocks']:,} = {f['overwrite']}x "
                   f"| {f['lost']} / {f['overrun']} / {f['dropped']} |")
    out.append("")
    for f in facts:
        c = f["count"]
        out += [f"**`{f['file']}`**: `{f['command']}`  ",
                f"kernel {f['kernel']}, {f['fs']} on a {f['device_mib']} MiB loop device, captured {f['date']}; "
                f"phases {', '.join(f['phases'])}; requests: {c.get('write', 0):,} writes, "
                f"{c.get('discard', 0):,} discards, {c.get('flush', 0):,} flushes, {c.get('read', 0):,} reads; "
                f"{f['events_per_s']:,} events/s while capturing.  ",
                f"parameters: `{json.dumps(f['params'], sort_keys=True)}`  ",
                f"programs: {', '.join(f'{k} {v}' for k, v in sorted(f['versions'].items()))}", ""]
    return "\n".join(out)


def mem_section(facts: list[dict]) -> str:
    out = ["| file | size | workload | accesses | records | simulated | distinct pages | writes |",
           "|---|---|---|---|---|---|---|---|"]
    for f in facts:
        out.append(f"| `{f['file']}` | {_kib(f['bytes'])} | {f['workload']} | {f['accesses']:,} "
                   f"{'(capped)' if f['capped'] else '(whole run)'} | {f['records']:,} "
                   f"| {f['duration_us'] / 1e6:g} s | {f['distinct_pages']:,} | {100 * f['write_share']:.1f} % |")
    out.append("")
    for f in facts:
        prog = " ".join(f["program"] or [])
        out += [f"**`{f['file']}`**: `{f['command']}`  ",
                f"kernel {f['kernel']}, {f['valgrind']}, captured {f['date']}; program `{prog}`; "
                f"{f['accesses_per_us']} accesses per simulated us, windows of {f['window_us']} us"
                + (f", recording from the start marker {f['start_marker']}" if f["start_marker"] else "") + ".  ",
                f"parameters: `{json.dumps(f['params'], sort_keys=True)}`", ""]
    return "\n".join(out)


_SECTION = re.compile(r"(<!-- corpus:(block|mem) -->\n)(.*?)(<!-- /corpus -->)", re.S)


def render(d: str) -> str:
    readme = os.path.join(d, "README.md")
    text = open(readme).read()
    block, mem = trace_files(d)
    parts = {"block": block_section([block_facts(p) for p in block]),
             "mem": mem_section([mem_facts(p) for p in mem])}
    return _SECTION.sub(lambda m: m.group(1) + parts[m.group(2)] + "\n" + m.group(4), text)


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "check"
    d = argv[1] if len(argv) > 1 else os.path.join("data", "traces")
    new = render(d)
    readme = os.path.join(d, "README.md")
    if cmd == "readme":
        with open(readme, "w") as f:
            f.write(new)
        return 0
    if new != open(readme).read():
        print(f"{readme} is out of date: run python -m kernelml.linux.corpus readme {d}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
