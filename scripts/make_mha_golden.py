#!/usr/bin/env python3
"""Golden values for spk's multi_head_attention and layer_norm ops (tests/engine/test_attention.cpp).

torch.nn.MultiheadAttention(8, 2, batch_first=True) and torch.nn.LayerNorm(8), in double, with seeded weights
(the attention biases, zero at torch's init, are drawn too so they are tested). For each case the forward
output and the gradients of sum(out * cot) for a seeded cotangent cot, with respect to the inputs and every
parameter. Cases:
  mha_*   one unbatched sequence (L = 5, E = 8): out = MHA(query=y, key=x, value=x), as the ITM head of
          CJchanghwan/speaker_recognition_framework (model.py) calls it; grad_x sums the key and value paths.
  mhab_*  batched (B = 2): query (2, 5, 8), key and value (2, 4, 8), three different tensors.
  ln_*    LayerNorm(8) on (5, 8) with random weight and bias.
Writes tests/data/mha/<name>.txt: the shape on the first line (dims separated by spaces), then the values in
row-major order, one per line, as repr() of the double (round-trips exactly).

Run: /usr/bin/python3 scripts/make_mha_golden.py   (torch 1.13)
"""
import os

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "mha")


def write(name, t):
    t = t.detach().to(torch.float64).contiguous()
    with open(os.path.join(OUT, name + ".txt"), "w") as f:
        f.write(" ".join(str(d) for d in t.shape) + "\n")
        for v in t.reshape(-1).tolist():
            f.write(repr(float(v)) + "\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(20261206)
    E, H, L = 8, 2, 5
    mha = torch.nn.MultiheadAttention(E, H, batch_first=True).double()
    with torch.no_grad():
        mha.in_proj_bias.uniform_(-0.5, 0.5)
        mha.out_proj.bias.uniform_(-0.5, 0.5)
    params = {"in_proj_weight": mha.in_proj_weight, "in_proj_bias": mha.in_proj_bias,
              "out_proj_weight": mha.out_proj.weight, "out_proj_bias": mha.out_proj.bias}
    for n, p in params.items():
        write("mha_" + n, p)

    # Unbatched, key = value = x.
    x = torch.randn(L, E, dtype=torch.float64, requires_grad=True)
    y = torch.randn(L, E, dtype=torch.float64, requires_grad=True)
    cot = torch.randn(L, E, dtype=torch.float64)
    out, _ = mha(y, x, x, need_weights=False)
    mha.zero_grad()
    (out * cot).sum().backward()
    for n, t in {"x": x, "y": y, "cot": cot, "out": out, "grad_x": x.grad, "grad_y": y.grad}.items():
        write("mha_" + n, t)
    for n, p in params.items():
        write("mha_grad_" + n, p.grad)

    # Batched, three different inputs, Lk != Lq.
    q = torch.randn(2, L, E, dtype=torch.float64, requires_grad=True)
    k = torch.randn(2, 4, E, dtype=torch.float64, requires_grad=True)
    v = torch.randn(2, 4, E, dtype=torch.float64, requires_grad=True)
    cot = torch.randn(2, L, E, dtype=torch.float64)
    out, _ = mha(q, k, v, need_weights=False)
    mha.zero_grad()
    (out * cot).sum().backward()
    for n, t in {"query": q, "key": k, "value": v, "cot": cot, "out": out, "grad_query": q.grad,
                 "grad_key": k.grad, "grad_value": v.grad}.items():
        write("mhab_" + n, t)
    for n, p in params.items():
        write("mhab_grad_" + n, p.grad)

    # LayerNorm.
    ln = torch.nn.LayerNorm(E).double()
    with torch.no_grad():
        ln.weight.uniform_(0.5, 1.5)
        ln.bias.uniform_(-0.5, 0.5)
    x = torch.randn(L, E, dtype=torch.float64, requires_grad=True)
    cot = torch.randn(L, E, dtype=torch.float64)
    out = ln(x)
    (out * cot).sum().backward()
    for n, t in {"x": x, "weight": ln.weight, "bias": ln.bias, "cot": cot, "out": out, "grad_x": x.grad,
                 "grad_weight": ln.weight.grad, "grad_bias": ln.bias.grad}.items():
        write("ln_" + n, t)


if __name__ == "__main__":
    main()
