"""The generated C header agrees with the Python codec byte for byte.

A small C program includes the header (its _Static_asserts check every struct
size), fills one frame of each type with distinctive values and writes them
to stdout; Python decodes them, checks every field, and checks that its own
encoding of the same messages is identical.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from kernelml.uapi import messages as m
from kernelml.uapi.cheader import c_header

GCC = shutil.which("gcc")
needs_gcc = pytest.mark.skipif(GCC is None, reason="gcc not found: the C header cannot be compiled here")
little_endian = pytest.mark.skipif(sys.byteorder != "little",
                                   reason="the C program writes host-order structs; the wire is little-endian")

C_PROGRAM = r"""
#include <stdio.h>
#include <string.h>
#include "kernelml.h"

static unsigned char buf[8192];
static size_t len;

static void put(const void *p, size_t n)
{
	memcpy(buf + len, p, n);
	len += n;
}

static void header(enum kml_msg_type type, size_t length, __u32 seq)
{
	struct kml_hdr h;

	memset(&h, 0, sizeof(h));
	h.magic = KML_MAGIC;
	h.version = KML_PROTOCOL_VERSION;
	h.type = type;
	h.length = (__u32)length;
	h.seq = seq;
	put(&h, sizeof(h));
}

int main(void)
{
	struct kml_recommendation r;
	struct kml_telemetry t;
	struct kml_heartbeat hb;
	struct kml_hello hl;
	struct kml_desc d;
	struct kml_feedback fb;
	struct kml_transition tr;
	struct kml_mode md;
	__s64 words[3] = { -2, INT64_MIN, INT64_MAX };
	__s64 records[2][3] = { { 1, -1, 0x0102030405060708LL }, { INT64_MAX, INT64_MIN, 42 } };

	memset(&r, 0, sizeof(r));
	r.op_kind = 0x1234;
	r.flags = 0x00A5;
	r.n_words = 3;
	r.epoch = 0xFEDCBA9876543210ULL;
	r.expiry = 0x0123456789ABCDEFULL;
	r.model_id = 0xDEADBEEFU;
	header(KML_MSG_RECOMMENDATION, sizeof(struct kml_hdr) + sizeof(r) + sizeof(words), 0xA1B2C3D4U);
	put(&r, sizeof(r));
	put(words, sizeof(words));

	memset(&t, 0, sizeof(t));
	t.subsystem = 0x0102;
	t.record_kind = 0x0304;
	t.n_fields = 3;
	t.n_records = 2;
	t.first_seq = 0x1111222233334444ULL;
	t.dropped = 0xFFFFFFFFFFFFFFFFULL;
	t.now = 0x8000000000000001ULL;
	header(KML_MSG_TELEMETRY, sizeof(struct kml_hdr) + sizeof(t) + sizeof(records), 2);
	put(&t, sizeof(t));
	put(records, sizeof(records));

	memset(&hb, 0, sizeof(hb));
	hb.sender = KML_SENDER_AGENT;
	hb.subsystem = 0xBEEF;
	hb.boot_id = 0xCAFEF00DU;
	hb.seq = 0x0BADC0DE0BADC0DEULL;
	hb.now = 77;
	header(KML_MSG_HEARTBEAT, sizeof(struct kml_hdr) + sizeof(hb), 3);
	put(&hb, sizeof(hb));

	memset(&hl, 0, sizeof(hl));
	memset(&d, 0, sizeof(d));
	hl.proto_version = KML_PROTOCOL_VERSION;
	hl.subsystem = 9;
	hl.n_desc = 1;
	hl.boot_id = 0x01020304U;
	hl.tick_ns = 1000;
	hl.epoch = 5;
	hl.now = 6;
	memcpy(hl.name, "lfs-gc", 7);
	d.kind = KML_DESC_OP_KIND;
	d.id = 0x0A0B;
	d.record_kind = 0x0C0D;
	memcpy(d.name, "abcdefghijklmnopqrstuvw", KML_NAME_LEN);
	header(KML_MSG_HELLO, sizeof(struct kml_hdr) + sizeof(hl) + sizeof(d), 4);
	put(&hl, sizeof(hl));
	put(&d, sizeof(d));

	memset(&fb, 0, sizeof(fb));
	memset(&tr, 0, sizeof(tr));
	fb.op_kind = 3;
	fb.mode = KML_MODE_COLLABORATION;
	fb.pinned = 1;
	fb.n_transitions = 1;
	fb.now = 1000;
	fb.epoch = 12;
	fb.human_cost = -123456789;
	fb.ml_mean = 999999;
	fb.rejects7 = 0x7777;
	tr.at = 999;
	tr.src = KML_MODE_LEARNING;
	tr.dst = KML_MODE_COLLABORATION;
	tr.reason = KML_REASON_MATURE;
	header(KML_MSG_FEEDBACK, sizeof(struct kml_hdr) + sizeof(fb) + sizeof(tr), 5);
	put(&fb, sizeof(fb));
	put(&tr, sizeof(tr));

	memset(&md, 0, sizeof(md));
	md.op_kind = KML_ALL_KINDS;
	md.action = KML_MODE_PIN;
	md.mode = KML_MODE_EMERGENCY;
	header(KML_MSG_MODE, sizeof(struct kml_hdr) + sizeof(md), 6);
	put(&md, sizeof(md));

	return fwrite(buf, 1, len, stdout) == len ? 0 : 1;
}
"""

EXPECTED = [
    (0xA1B2C3D4, m.Recommendation(op_kind=0x1234, flags=0xA5, epoch=0xFEDCBA9876543210,
                                  expiry=0x0123456789ABCDEF, model_id=0xDEADBEEF,
                                  words=np.array([-2, -(2**63), 2**63 - 1], dtype=np.int64))),
    (2, m.Telemetry(subsystem=0x0102, record_kind=0x0304, first_seq=0x1111222233334444, dropped=2**64 - 1,
                    now=0x8000000000000001,
                    records=np.array([[1, -1, 0x0102030405060708], [2**63 - 1, -(2**63), 42]], dtype=np.int64))),
    (3, m.Heartbeat(sender=m.Sender.AGENT, subsystem=0xBEEF, boot_id=0xCAFEF00D, seq=0x0BADC0DE0BADC0DE, now=77)),
    (4, m.Hello(subsystem=9, name="lfs-gc", boot_id=0x01020304, tick_ns=1000, epoch=5, now=6,
                descs=(m.Desc(m.DescKind.OP_KIND, 0x0A0B, "abcdefghijklmnopqrstuvw", 0x0C0D),))),
    (5, m.Feedback(op_kind=3, mode=m.Mode.COLLABORATION, pinned=True, now=1000, epoch=12, human_cost=-123456789,
                   ml_mean=999999, rejects=(0,) * 7 + (0x7777,),
                   transitions=(m.Transition(999, m.Mode.LEARNING, m.Mode.COLLABORATION, m.Reason.MATURE),))),
    (6, m.ModeCommand(op_kind=m.ALL_KINDS, action=m.ModeAction.PIN, mode=m.Mode.EMERGENCY)),
]


def split_frames(data: bytes) -> list[bytes]:
    out, off = [], 0
    while off < len(data):
        length = m.decode_header(data[off:off + int.from_bytes(data[off + 8:off + 12], "little")])["length"]
        out.append(data[off:off + length])
        off += length
    return out


def _fields(msg) -> dict:
    d = dict(vars(msg))
    for k, v in d.items():
        if isinstance(v, np.ndarray):
            d[k] = (v.dtype.str, v.shape, v.tolist())
    return d


@needs_gcc
@little_endian
def test_c_program_frames_decode_in_python(tmp_path):
    (tmp_path / "kernelml.h").write_text(c_header())
    (tmp_path / "prog.c").write_text(C_PROGRAM)
    exe = tmp_path / "prog"
    cc = subprocess.run([GCC, "-std=c11", "-Wall", "-Wextra", "-Werror", "-I", str(tmp_path),
                         "-o", str(exe), str(tmp_path / "prog.c")], capture_output=True, text=True)
    assert cc.returncode == 0, cc.stderr
    run = subprocess.run([str(exe)], capture_output=True, timeout=30)
    assert run.returncode == 0
    frames = split_frames(run.stdout)
    assert len(frames) == len(EXPECTED)
    for frame, (seq, want) in zip(frames, EXPECTED):
        got = m.decode(frame)
        assert m.decode_header(frame)["seq"] == seq
        assert type(got) is type(want)
        assert _fields(got) == _fields(want), type(want).__name__
        assert m.encode(want, seq) == frame  # Python writes the very same bytes


@needs_gcc
def test_header_compiles_alone_and_in_kernel_mode(tmp_path):
    (tmp_path / "kernelml.h").write_text(c_header())
    (tmp_path / "only.c").write_text('#include "kernelml.h"\n#include "kernelml.h"\n')  # include guard
    base = [GCC, "-std=c11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-I", str(tmp_path)]
    cc = subprocess.run(base + [str(tmp_path / "only.c")], capture_output=True, text=True)
    assert cc.returncode == 0, cc.stderr
    if not os.path.exists("/usr/include/linux/types.h"):
        pytest.skip("no <linux/types.h> to check the __KERNEL__ branch")
    cc = subprocess.run(base + ["-std=gnu11", "-D__KERNEL__", str(tmp_path / "only.c")],
                        capture_output=True, text=True)
    assert cc.returncode == 0, cc.stderr


@needs_gcc
def test_static_asserts_catch_a_wrong_layout(tmp_path):
    """The emitted _Static_asserts are live: a tampered struct fails to compile."""
    bad = c_header().replace("\t__u32 model_id;", "\t__u64 model_id;", 1)
    assert bad != c_header()
    (tmp_path / "kernelml.h").write_text(bad)
    (tmp_path / "only.c").write_text('#include "kernelml.h"\n')
    cc = subprocess.run([GCC, "-std=c11", "-fsyntax-only", "-I", str(tmp_path), str(tmp_path / "only.c")],
                        capture_output=True, text=True)
    assert cc.returncode != 0 and "kml_recommendation size" in cc.stderr


def test_header_names_every_enum_value():
    text = c_header()
    for enum, prefix in ((m.MsgType, "KML_MSG_"), (m.Sender, "KML_SENDER_"), (m.DescKind, "KML_DESC_"),
                         (m.ModeAction, "KML_MODE_"), (m.Mode, "KML_MODE_"), (m.Reason, "KML_REASON_"),
                         (m.RejectReason, "KML_REJECT_")):
        for v in enum:
            assert f"\t{prefix}{v.name} = {int(v)}," in text
    for lay in m.layouts():
        assert f'_Static_assert(sizeof(struct {lay.cname}) == {lay.size}, "{lay.cname} size");' in text


def test_cli_prints_the_same_header():
    run = subprocess.run([sys.executable, "-m", "kernelml", "uapi", "header"], capture_output=True, text=True,
                         timeout=120, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert run.returncode == 0, run.stderr
    assert run.stdout == c_header()
