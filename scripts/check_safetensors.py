#!/usr/bin/env python3
"""Load a .safetensors file with the reference Python `safetensors` package and print what it holds.

Proves that files written by spk (engine/safetensors.cpp) are readable by the reference implementation:
    pip install safetensors numpy
    python3 scripts/check_safetensors.py model.safetensors [--values N]
Exits non-zero if the package rejects the file. numpy has no bfloat16, so BF16 tensors are widened to
float32 from their raw bits for printing. No spk test depends on this script.
"""
import argparse
import json
import struct
import sys

import numpy as np
from safetensors import safe_open


def bf16_to_f32(path, name):
    # Read the raw bytes through the header, as numpy cannot hold bfloat16.
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        info = json.loads(f.read(n))[name]
        begin, end = info["data_offsets"]
        f.seek(8 + n + begin)
        raw = np.frombuffer(f.read(end - begin), dtype="<u2")
    return (raw.astype(np.uint32) << 16).view(np.float32).reshape(info["shape"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path")
    ap.add_argument("--values", type=int, default=4, help="values to print per tensor")
    args = ap.parse_args()
    with open(args.path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    with safe_open(args.path, framework="np") as f:
        print(f"metadata: {f.metadata()}")
        for name in f.keys():
            dtype = header[name]["dtype"]
            t = bf16_to_f32(args.path, name) if dtype == "BF16" else f.get_tensor(name)
            flat = t.reshape(-1)[: args.values].tolist()
            print(f"{name}: {dtype} {list(t.shape)} {flat}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
