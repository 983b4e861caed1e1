"""Minimal safetensors reader and writer (numpy), for the conformance tests:
Debian has no `safetensors` package, and the format is small."""
import json
import struct

import numpy as np

_DT = {"F32": np.float32, "F64": np.float64, "I32": np.int32, "BOOL": np.bool_}
_NAME = {np.dtype(v).str: k for k, v in _DT.items()}


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        arr = np.frombuffer(body[a:b], dtype=_DT[t["dtype"]]).reshape(t["shape"])
        out[name] = arr.copy()
    return out


def write(path, tensors):
    header, blobs, off = {}, [], 0
    for name, arr in tensors.items():
        arr = np.asarray(arr, order="C")  # ascontiguousarray makes 0-d 1-d
        raw = arr.tobytes()
        header[name] = {"dtype": _NAME[arr.dtype.str], "shape": list(arr.shape),
                        "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
