#!/usr/bin/env python3
"""Golden values for spk's gru op and GRU layer (tests/engine/test_gru.cpp).

torch.nn.GRU(3, 4, batch_first=True) in double with seeded weights (torch's own init, U(±1/√H)), on x (2, 5, 3)
and a random h0 (2, 4): the output sequence, and the gradients of sum(out * cot) for a seeded cotangent cot with
respect to x, h0 and every parameter. The weights keep torch's names and gate layout (r, z, n), so the test also
proves a torch checkpoint's GRU loads as it is.
Writes tests/data/gru/<name>.txt: the shape on the first line (dims separated by spaces), then the values in
row-major order, one per line, as repr() of the double (round-trips exactly).

Run: /usr/bin/python3 scripts/make_gru_golden.py   (torch 1.13, Debian's python3-torch)
"""
import os

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "gru")


def write(name, t):
    t = t.detach().to(torch.float64).contiguous()
    with open(os.path.join(OUT, name + ".txt"), "w") as f:
        f.write(" ".join(str(d) for d in t.shape) + "\n")
        for v in t.reshape(-1).tolist():
            f.write(repr(float(v)) + "\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(20261207)
    gru = torch.nn.GRU(3, 4, batch_first=True).double()
    x = torch.randn(2, 5, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(1, 2, 4, dtype=torch.float64, requires_grad=True)
    cot = torch.randn(2, 5, 4, dtype=torch.float64)
    out, _ = gru(x, h0)
    (out * cot).sum().backward()
    for n, t in {"x": x, "h0": h0[0], "cot": cot, "out": out, "grad_x": x.grad, "grad_h0": h0.grad[0]}.items():
        write(n, t)
    for n, p in gru.named_parameters():
        write(n, p)
        write("grad_" + n, p.grad)


if __name__ == "__main__":
    main()
