#!/usr/bin/python3
"""Parameter counts and state_dict names of wespeaker's ResNet family, for tests/nets/test_wespeaker_resnet.cpp.

Writes tests/data/models/wespeaker_resnet_family.txt from the PyTorch definitions of
scripts/golden_models/wespeaker_resnet.py (checked equal, names, shapes and outputs, to wenet-e2e/wespeaker's own
resnet.py / pooling_layers.py by running that file with a wespeaker checkout). n_mels 80, nOut 256 for every depth
(ResNet18 ... ResNet293) and pooling (TSTP, ASTP, MQMHASTP), and the HardNeg seed's ResNet18/34 (ResNetHardNeg there):
  family <model> <encoder> <parameters> <state entries> <fnv1a64> <blocks per stage> <block class>
where the hash is FNV-1a 64 of the sorted lines "<name> <d0,d1,...>\\n" (a scalar's shape is empty), so the test
catches any name or shape change without keeping 17,000 names; and the full list, in state_dict order, of
ResNet18 MQMHASTP, ResNet50 TSTP and ResNet18_HardNeg (both block kinds, all poolings), to say WHICH name differs:
  entry <model>_<encoder> <name> <d0,d1,...>

    /usr/bin/python3 scripts/make_wespeaker_resnet_family.py
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from golden_models.wespeaker_resnet import DEPTHS, ResNet, ResNetHardNeg  # noqa: E402

OUT = os.path.join(HERE, "..", "tests", "data", "models", "wespeaker_resnet_family.txt")
LISTED = [("ResNet18", "MQMHASTP"), ("ResNet50", "TSTP"), ("ResNet18_HardNeg", "MHASTP")]


def fnv1a64(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
    return h


def main():
    lines = ["# " + l for l in __doc__.strip().splitlines()[:1]]
    entries = []
    rows = [(d, p, lambda d=d, p=p: ResNet(d, feat_dim=80, embed_dim=256, pooling=p))
            for d in DEPTHS for p in ("TSTP", "ASTP", "MQMHASTP")]
    rows += [(d + "_HardNeg", "MHASTP", lambda d=d: ResNetHardNeg(d, feat_dim=80, embed_dim=256))
             for d in ("ResNet18", "ResNet34")]
    for depth, pooling, build in rows:
        m = build()
        sd = [(n, ",".join(str(d) for d in t.shape)) for n, t in m.state_dict().items()]
        h = fnv1a64("".join("%s %s\n" % e for e in sorted(sd)).encode())
        n_params = sum(p.numel() for p in m.parameters())
        blocks = ",".join(str(len(getattr(m, "layer%d" % i))) for i in range(1, 5))
        lines.append("family %s %s %d %d %016x %s %s" % (depth, pooling, n_params, len(sd), h, blocks,
                                                        type(m.layer1[0]).__name__))
        if (depth, pooling) in LISTED:
            entries += ["entry %s_%s %s %s" % (depth, pooling, n, s) for n, s in sd]
        print(lines[-1])
    with open(OUT, "w") as f:
        f.write("\n".join(lines + entries) + "\n")
    print("wrote", os.path.normpath(OUT), len(entries), "entries")


if __name__ == "__main__":
    main()
