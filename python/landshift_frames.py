#!/usr/bin/python3
"""Read and write Landshift frame streams with numpy (docs/frames.md).

    from landshift_frames import read_frames, FrameWriter
    for f in read_frames("tiles.frames"):          # a path, "-" (stdin) or a binary file
        f["array"]    # numpy array, shape f["shape"], dtype from f["dtype"]
        f["mask"]     # (h, w) uint8, 1 = valid, or None
        f["label"]    # (h, w) uint8 classes, or None
        f["gt"], f["crs"], f["off"], f["bands"], f["domain"], ...

    with FrameWriter(sys.stdout.buffer) as w:      # a Python stage in a pipe
        for f in read_frames("-"):
            f["array"] = f["array"] * 2
            w.write(f)

Frames are read one at a time (memory: one frame, not the stream) and
checked as the C reader checks them: the CRC-32C that closes every frame, the
format version, the data length, the trailer and its frame count. The CRC is
computed by numpy over many lanes at once (hundreds of MB/s), so the check
is not the bottleneck. `landshift_frames.py --meta MODEL` prints a model
file's records (band names, GSD, classes, training) as KEY VALUE lines.
Needs Debian's python3-msgpack and python3-numpy.
"""
import struct
import sys

import msgpack
import numpy as np

DTYPES = {"u8": np.uint8, "u16": np.dtype("<u2"), "i16": np.dtype("<i2"), "f32": np.dtype("<f4")}
NAMES = {np.dtype(np.uint8): "u8", np.dtype("<u2"): "u16", np.dtype("<i2"): "i16", np.dtype("<f4"): "f32"}
POLY = 0x82F63B78
_T = np.zeros(256, np.uint32)
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ POLY if _c & 1 else _c >> 1
    _T[_i] = _c
_SHIFT = {}    # L -> four 256-entry tables of the operator "L zero bytes through the register"


def _raw(c, data):
    """The register after data from c, byte by byte (no inversions)."""
    t = _T
    for b in data:
        c = (c >> 8) ^ int(t[(c ^ b) & 0xFF])
    return c


def _lanes(c, block):
    """The registers of many lanes at once: block is (lanes, L) uint8."""
    t = _T
    c = np.asarray(c, np.uint32)
    cols = np.ascontiguousarray(block.T)    # each step reads one byte of every lane: contiguous
    for j in range(cols.shape[0]):
        c = (c >> np.uint32(8)) ^ t[(c ^ cols[j]) & np.uint32(0xFF)]
    return c


def _shift_tables(n):
    """M(c) = the register after n zero bytes from c, as four byte tables (M is linear)."""
    if n not in _SHIFT:
        basis = _lanes(np.array([1 << k for k in range(32)], np.uint32), np.zeros((32, n), np.uint8))
        tabs = np.zeros((4, 256), np.uint32)
        for k in range(4):
            for v in range(256):
                acc = 0
                for bit in range(8):
                    if v >> bit & 1:
                        acc ^= int(basis[8 * k + bit])
                tabs[k, v] = acc
        _SHIFT[n] = tabs
    return _SHIFT[n]


def crc32c(data, crc=0):
    """CRC-32C (Castagnoli), as lib/base/crc32c.c computes it."""
    data = memoryview(data).cast("B")
    c = crc ^ 0xFFFFFFFF
    n = len(data)
    lane = 1024
    if n < 16 * 1024:
        return _raw(c, bytes(data)) ^ 0xFFFFFFFF
    k = n // lane
    block = np.frombuffer(data, np.uint8, k * lane).reshape(k, lane)
    r = _lanes(np.zeros(k, np.uint32), block)    # each lane's register from 0
    m0, m1, m2, m3 = (t.tolist() for t in _shift_tables(lane))
    for ri in r.tolist():                        # c <- M(c) ^ r_i: linearity of the register
        c = m0[c & 0xFF] ^ m1[(c >> 8) & 0xFF] ^ m2[(c >> 16) & 0xFF] ^ m3[c >> 24] ^ ri
    return _raw(c, bytes(data[k * lane:])) ^ 0xFFFFFFFF


class FrameError(Exception):
    pass


def _open(src):
    if src == "-":
        return sys.stdin.buffer, "stdin", False
    if hasattr(src, "read"):
        return src, getattr(src, "name", "stream"), False
    return open(src, "rb"), src, True


def read_frames(src, check_crc=True, chunk=1 << 20):
    """Yield every frame of a stream (concatenated streams read as one), lazily."""
    fp, name, close = _open(src)
    unpacker = msgpack.Unpacker(raw=False, max_buffer_size=0)
    buf, base, start = bytearray(), 0, 0     # bytes from offset base not yet behind a whole frame
    index, seg, ended, eof = 0, 0, False, False
    try:
        while not eof:
            data = fp.read(chunk)
            eof = not data
            if data:
                unpacker.feed(data)
                buf += data
            for m in unpacker:
                end = unpacker.tell()
                raw = memoryview(buf)[start - base:end - base]
                if not isinstance(m, dict) or m.get("v") != 1:
                    raise FrameError(f"{name}: frame {index}: not a version 1 frame")
                if check_crc and crc32c(raw[:-5]) != m.get("crc"):
                    raise FrameError(f"{name}: frame {index}: checksum mismatch")
                raw.release()
                del buf[:end - base]
                base = start = end
                index += 1
                if m["kind"] == "trailer":
                    if m["count"] != seg:
                        raise FrameError(f"{name}: trailer counts {m['count']} frames, the stream had {seg}")
                    seg, ended = 0, True
                    continue
                ended = False
                seg += 1
                shape = tuple(m["shape"])
                arr = np.frombuffer(m["data"], dtype=DTYPES[m["dtype"]])
                if arr.size != int(np.prod(shape)):
                    raise FrameError(f"{name}: frame {index - 1}: data length does not match the shape")
                m["array"] = arr.reshape(shape)
                for plane in ("mask", "label"):    # tiles carry [h][w] planes; model tensors none
                    m[plane] = np.frombuffer(m[plane], np.uint8).reshape(shape[-2:]) if plane in m else None
                yield m
        if buf:
            raise FrameError(f"{name}: stream ends inside frame {index} (truncated)")
        if not ended:
            raise FrameError(f"{name}: stream ended without a trailer" if index else f"{name}: empty stream")
    finally:
        if close:
            fp.close()


class FrameWriter:
    """Frames to a binary file, each closed by its CRC, the stream by a trailer."""
    SKIP = ("array", "crc", "v", "seq", "mask", "label", "data", "dtype", "shape")

    def __init__(self, fp):
        self.fp, self.count = fp, 0

    def write(self, f):
        a = np.ascontiguousarray(f["array"])
        dt = NAMES.get(a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype)
        if dt is None:
            raise FrameError(f"dtype {a.dtype} has no frame type (u8, u16, i16, f32)")
        m = {"v": 1, "kind": f.get("kind", "tile"), "key": f.get("key", str(self.count)), "seq": self.count,
             "dtype": dt, "shape": list(a.shape), "data": a.astype(DTYPES[dt], copy=False).tobytes()}
        for k, v in f.items():
            if k not in self.SKIP and k not in m:
                m[k] = v
        for plane in ("mask", "label"):
            if f.get(plane) is not None:
                m[plane] = np.ascontiguousarray(f[plane], np.uint8).tobytes()
        self._put(m)
        self.count += 1

    def _put(self, m):
        body = msgpack.packb(dict(m, crc=0), use_bin_type=True)
        head = body[:-1]                      # the map without the last value (crc 0: one byte)
        c = crc32c(head)
        self.fp.write(head + b"\xce" + struct.pack(">I", c))

    def close(self):
        self._put({"v": 1, "kind": "trailer", "seq": self.count, "count": self.count})
        self.fp.flush()

    def __enter__(self):
        return self

    def __exit__(self, kind, *_):
        if kind is None:
            self.close()


def model_meta(path):
    """A model file's records: the architecture (spec) and its KEY VALUE lines."""
    f = next(iter(read_frames(path)))
    if f["kind"] != "model":
        raise FrameError(f"{path}: not a model (its first frame is '{f['kind']}')")
    lines = bytes(f["array"]).decode("utf-8", "replace").splitlines()
    return [("spec", f["key"])] + [tuple(l.split(" ", 1)) for l in lines[1:] if " " in l]


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--meta":
        try:
            for k, v in model_meta(sys.argv[2]):
                print(k, v)
        except (FrameError, OSError, StopIteration, ValueError) as e:
            sys.exit(f"landshift_frames: {sys.argv[2]}: {e}")
    else:
        sys.exit("usage: landshift_frames.py --meta MODEL")
