"""Read Landshift frame streams into numpy arrays (docs/frames.md).

    from landshift_frames import read_frames
    for f in read_frames("tiles.frames"):
        f["array"]    # numpy array, shape f["shape"], dtype from f["dtype"]
        f["mask"]     # (h, w) uint8, 1 = valid, or None
        f["label"]    # (h, w) uint8 classes, or None
        f["gt"], f["crs"], f["off"], f["bands"], f["domain"], ...

Checks what the C reader checks: the CRC-32C that closes every frame, the
format version, the data length, the trailer and its frame count. Needs
Debian's python3-msgpack and python3-numpy.
"""
import msgpack
import numpy as np

DTYPES = {"u8": np.uint8, "u16": np.dtype("<u2"), "i16": np.dtype("<i2"), "f32": np.dtype("<f4")}
_TABLE = []


def crc32c(data, crc=0):
    """CRC-32C (Castagnoli), as lib/crc32c.c computes it."""
    if not _TABLE:
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
            _TABLE.append(c)
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = (crc >> 8) ^ _TABLE[(crc ^ b) & 0xFF]
    return crc ^ 0xFFFFFFFF


class FrameError(Exception):
    pass


def read_frames(path, check_crc=True):
    """Yield every frame of a stream (concatenated streams read as one)."""
    with open(path, "rb") as fp:
        buf = fp.read()
    unpacker = msgpack.Unpacker(raw=False, max_buffer_size=0)
    unpacker.feed(buf)
    index, seg, ended = 0, 0, False
    start = 0
    for m in unpacker:
        end = unpacker.tell()
        if not isinstance(m, dict) or m.get("v") != 1:
            raise FrameError(f"{path}: frame {index}: not a version 1 frame")
        if check_crc and crc32c(buf[start:end - 5]) != m.get("crc"):
            raise FrameError(f"{path}: frame {index}: checksum mismatch")
        start = end
        index += 1
        if m["kind"] == "trailer":
            if m["count"] != seg:
                raise FrameError(f"{path}: trailer counts {m['count']} frames, the stream had {seg}")
            seg, ended = 0, True
            continue
        ended = False
        seg += 1
        shape = tuple(m["shape"])
        arr = np.frombuffer(m["data"], dtype=DTYPES[m["dtype"]])
        if arr.size != int(np.prod(shape)):
            raise FrameError(f"{path}: frame {index - 1}: data length does not match the shape")
        m["array"] = arr.reshape(shape)
        for plane in ("mask", "label"):    # tiles carry [h][w] planes; model tensors none
            m[plane] = np.frombuffer(m[plane], np.uint8).reshape(shape[-2:]) if plane in m else None
        yield m
    if start != len(buf):
        raise FrameError(f"{path}: stream ends inside frame {index} (truncated)")
    if not ended:
        raise FrameError(f"{path}: stream ended without a trailer")
