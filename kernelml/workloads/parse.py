"""Byte-level line parsers in numba for the text trace formats.

A caller hands a buffer of whole lines (``uint8``); a kernel parses every
line into output arrays and counts blank/comment lines, a header (only the
first meaningful line of a file may be one), and malformed lines (with the
first bad line number).  Lines end with ``\\n``; a trailing ``\\r`` is
ignored; lines starting with ``#`` are comments.

Block formats share one kernel driven by a column spec: for each of TIME,
OP, OFFSET, SIZE, DEVICE the field index and how to read it (decimal,
hex, first character or number through a lookup table) and a scale
``value * mul // div``.  Op codes out of the lookup table: R_WRITE,
R_TRIM, R_READ, R_OTHER (a valid request the simulator ignores), -1
(malformed).
"""

from __future__ import annotations

import numpy as np
from numba import njit

R_WRITE, R_TRIM, R_READ, R_OTHER = 0, 1, 2, 3
K_DEC, K_HEX, K_CHAR, K_INTMAP, K_HEXMAP, K_DECFRAC = range(6)
C_TIME, C_OP, C_OFF, C_SIZE, C_DEV = range(5)
MAXF = 16
# result vector indices
N_OUT, N_LINES, N_BAD, FIRST_BAD, N_HEADER, N_BLANK, SEEN, N_SKIP = range(8)
RES_LEN = 8


@njit(cache=True)
def _dec(buf, a, b):
    """Non-negative decimal in buf[a:b]; (value, ok)."""
    if a >= b or b - a > 18:
        return 0, False
    v = 0
    for i in range(a, b):
        c = buf[i]
        if c < 48 or c > 57:
            return 0, False
        v = v * 10 + (c - 48)
    return v, True


@njit(cache=True)
def _hex(buf, a, b):
    if b - a >= 2 and buf[a] == 48 and (buf[a + 1] == 120 or buf[a + 1] == 88):
        a += 2
    if a >= b or b - a > 15:
        return 0, False
    v = 0
    for i in range(a, b):
        c = buf[i]
        if 48 <= c <= 57:
            d = c - 48
        elif 97 <= c <= 102:
            d = c - 87
        elif 65 <= c <= 70:
            d = c - 55
        else:
            return 0, False
        v = v * 16 + d
    return v, True


@njit(cache=True)
def _decfrac(buf, a, b, mul, div):
    """Decimal with an optional fraction, scaled by mul/div; (value, ok)."""
    dot = -1
    for i in range(a, b):
        if buf[i] == 46:
            dot = i
            break
    if dot < 0:
        v, ok = _dec(buf, a, b)
        return v * mul // div, ok
    ip, ok = _dec(buf, a, dot)
    if not ok:
        return 0, False
    fb = min(b, dot + 10)
    if fb == dot + 1:
        return ip * mul // div, True
    fr, ok2 = _dec(buf, dot + 1, fb)
    if not ok2:
        return 0, False
    for i in range(fb, b):  # digits past 1e-9 are ignored but must be digits
        if buf[i] < 48 or buf[i] > 57:
            return 0, False
    scale = 1
    for i in range(fb - dot - 1):
        scale *= 10
    return ip * mul // div + fr * mul // (div * scale), True


@njit(cache=True)
def _split(buf, a, e, delim, fs, fe):
    """Fields of buf[a:e] into fs/fe; returns the field count (MAXF+1 if more)."""
    nf = 0
    i = a
    if delim == 0:  # runs of blanks separate fields
        while i < e:
            while i < e and (buf[i] == 32 or buf[i] == 9):
                i += 1
            if i >= e:
                break
            if nf == MAXF:
                return MAXF + 1
            fs[nf] = i
            while i < e and buf[i] != 32 and buf[i] != 9:
                i += 1
            fe[nf] = i
            nf += 1
        return nf
    while True:
        s = i
        while i < e and buf[i] != delim:
            i += 1
        if nf == MAXF:
            return MAXF + 1
        x, y = s, i
        while x < y and (buf[x] == 32 or buf[x] == 9):
            x += 1
        while y > x and (buf[y - 1] == 32 or buf[y - 1] == 9):
            y -= 1
        fs[nf] = x
        fe[nf] = y
        nf += 1
        if i >= e:
            return nf
        i += 1


@njit(cache=True)
def _line_end(buf, i, n):
    j = i
    while j < n and buf[j] != 10:
        j += 1
    e = j
    if e > i and buf[e - 1] == 13:
        e -= 1
    return j, e


@njit(cache=True)
def _skip_blank(buf, i, e):
    while i < e and (buf[i] == 32 or buf[i] == 9):
        i += 1
    return i


@njit(cache=True)
def _column(buf, a, b, kind, mul, div, optab):
    if kind == K_DEC or kind == K_HEX:
        if kind == K_DEC:
            v, ok = _dec(buf, a, b)
        else:
            v, ok = _hex(buf, a, b)
        if mul != 1:
            v *= mul
        if div != 1:
            v //= div
        return v, ok
    if kind == K_DECFRAC:
        return _decfrac(buf, a, b, mul, div)
    if kind == K_CHAR:
        if a >= b:
            return 0, False
        v = np.int64(optab[buf[a]])
        return v, v >= 0
    if kind == K_INTMAP:
        v, ok = _dec(buf, a, b)
    else:
        v, ok = _hex(buf, a, b)
    if not ok or v > 255:
        return 0, False
    r = np.int64(optab[v])
    return r, r >= 0


@njit(cache=True)
def parse_block_lines(buf, spec, optab, delim, min_fields, line0, res,
                      o_time, o_op, o_off, o_size, o_dev):
    """Parse whole lines of a delimited block trace.  ``res`` (int64[RES_LEN]) is
    updated in place; ``res[SEEN]`` says whether a meaningful line was
    already seen in the file (only the first may be a header)."""
    n = buf.shape[0]
    fs = np.zeros(MAXF, np.int64)
    fe = np.zeros(MAXF, np.int64)
    vals = np.zeros(5, np.int64)
    k = res[N_OUT]
    line = line0
    i = 0
    while i < n:
        j, e = _line_end(buf, i, n)
        a = _skip_blank(buf, i, e)
        line += 1
        if a >= e or buf[a] == 35:
            res[N_BLANK] += 1
            i = j + 1
            continue
        nf = _split(buf, a, e, delim, fs, fe)
        ok = nf >= min_fields and nf <= MAXF
        c = 0
        while ok and c < 5:
            fi = spec[c, 0]
            if fi >= 0:
                vals[c], ok = _column(buf, fs[fi], fe[fi], spec[c, 1], spec[c, 2], spec[c, 3], optab)
            else:
                vals[c] = 0
            c += 1
        if ok:
            o_time[k] = vals[C_TIME]
            o_op[k] = vals[C_OP]
            o_off[k] = vals[C_OFF]
            o_size[k] = vals[C_SIZE]
            o_dev[k] = vals[C_DEV]
            k += 1
        elif res[SEEN] == 0:
            res[N_HEADER] += 1
        else:
            res[N_BAD] += 1
            if res[FIRST_BAD] == 0:
                res[FIRST_BAD] = line
        res[SEEN] = 1
        i = j + 1
    res[N_OUT] = k
    res[N_LINES] = line
    return k


@njit(cache=True)
def parse_lackey_lines(buf, include_instr, line0, res, o_addr, o_size, o_write):
    """valgrind lackey --trace-mem=yes: ``I  addr,size`` (instruction
    fetch), `` L|S|M addr,size`` (load, store, modify); addr hex, size
    decimal.  ``==pid==`` lines (valgrind's own messages) count as blank."""
    n = buf.shape[0]
    k = res[N_OUT]
    line = line0
    i = 0
    while i < n:
        j, e = _line_end(buf, i, n)
        line += 1
        a = _skip_blank(buf, i, e)
        if a >= e or buf[a] == 35 or (e - a >= 2 and buf[a] == 61 and buf[a + 1] == 61):
            res[N_BLANK] += 1
            i = j + 1
            continue
        t = buf[a]
        ok = (t == 73 or t == 76 or t == 83 or t == 77) and a + 1 < e and (buf[a + 1] == 32 or buf[a + 1] == 9)
        if ok:
            b = _skip_blank(buf, a + 1, e)
            comma = b
            while comma < e and buf[comma] != 44:
                comma += 1
            addr, ok1 = _hex(buf, b, comma)
            size, ok2 = _dec(buf, comma + 1, e)
            ok = ok1 and ok2 and comma < e
        if ok:
            if t != 73 or include_instr:
                o_addr[k] = addr
                o_size[k] = size
                o_write[k] = t == 83 or t == 77
                k += 1
            else:
                res[N_SKIP] += 1  # instruction fetch, not asked for
        else:
            res[N_BAD] += 1
            if res[FIRST_BAD] == 0:
                res[FIRST_BAD] = line
        res[SEEN] = 1
        i = j + 1
    res[N_OUT] = k
    res[N_LINES] = line
    return k


@njit(cache=True)
def parse_vmtrace_lines(buf, line0, res, o_addr, o_write):
    """``hhhhhhhh R|W``: hex virtual address, then R (read) or W (write)."""
    n = buf.shape[0]
    fs = np.zeros(MAXF, np.int64)
    fe = np.zeros(MAXF, np.int64)
    k = res[N_OUT]
    line = line0
    i = 0
    while i < n:
        j, e = _line_end(buf, i, n)
        line += 1
        a = _skip_blank(buf, i, e)
        if a >= e or buf[a] == 35:
            res[N_BLANK] += 1
            i = j + 1
            continue
        nf = _split(buf, a, e, 0, fs, fe)
        ok = nf == 2 and fe[1] - fs[1] == 1
        if ok:
            addr, ok = _hex(buf, fs[0], fe[0])
            c = buf[fs[1]] | 32
            ok = ok and (c == 114 or c == 119)
        if ok:
            o_addr[k] = addr
            o_write[k] = c == 119
            k += 1
        elif res[SEEN] == 0:
            res[N_HEADER] += 1
        else:
            res[N_BAD] += 1
            if res[FIRST_BAD] == 0:
                res[FIRST_BAD] = line
        res[SEEN] = 1
        i = j + 1
    res[N_OUT] = k
    res[N_LINES] = line
    return k


@njit(cache=True)
def parse_pages_lines(buf, line0, res, o_time, o_page, o_write, o_hasw):
    """``time_us page [r|w]``: decimal time, decimal page (or 0x-hex)."""
    n = buf.shape[0]
    fs = np.zeros(MAXF, np.int64)
    fe = np.zeros(MAXF, np.int64)
    k = res[N_OUT]
    line = line0
    i = 0
    while i < n:
        j, e = _line_end(buf, i, n)
        line += 1
        a = _skip_blank(buf, i, e)
        if a >= e or buf[a] == 35:
            res[N_BLANK] += 1
            i = j + 1
            continue
        nf = _split(buf, a, e, 0, fs, fe)
        ok = nf == 2 or nf == 3
        w = False
        hw = False
        if ok:
            t, ok1 = _dec(buf, fs[0], fe[0])
            if fe[1] - fs[1] > 2 and buf[fs[1] + 1] == 120:
                p, ok2 = _hex(buf, fs[1], fe[1])
            else:
                p, ok2 = _dec(buf, fs[1], fe[1])
            ok = ok1 and ok2
            if ok and nf == 3:
                c = buf[fs[2]] | 32
                ok = fe[2] - fs[2] == 1 and (c == 114 or c == 119 or c == 48 or c == 49)
                w = c == 119 or c == 49
                hw = True
        if ok:
            o_time[k] = t
            o_page[k] = p
            o_write[k] = w
            o_hasw[k] = hw
            k += 1
        elif res[SEEN] == 0:
            res[N_HEADER] += 1
        else:
            res[N_BAD] += 1
            if res[FIRST_BAD] == 0:
                res[FIRST_BAD] = line
        res[SEEN] = 1
        i = j + 1
    res[N_OUT] = k
    res[N_LINES] = line
    return k


def read_lines(f, read_bytes: int):
    """Yield uint8 buffers of whole lines read from binary file ``f``, each
    about ``read_bytes`` long (the tail line is carried to the next one)."""
    rest = b""
    while True:
        data = f.read(read_bytes)
        if not data:
            if rest:
                yield np.frombuffer(rest, np.uint8)
            return
        data = rest + data
        cut = data.rfind(b"\n")
        if cut < 0:
            rest = data
            continue
        rest = data[cut + 1:]
        yield np.frombuffer(data, np.uint8, count=cut + 1)


def count_lines(buf: np.ndarray) -> int:
    return int(np.count_nonzero(buf == 10)) + 1
