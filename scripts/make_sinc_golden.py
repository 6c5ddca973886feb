#!/usr/bin/python3
"""Golden data for the SincNet ops (engine/ops/sinc.cpp, kernels/sinc/sinc.h), computed with PyTorch autograd.

Writes tests/data/sinc/<case>.txt, read by tests/engine/test_sinc.cpp (which never imports torch). Run with
Debian's python (torch 1.13):

    /usr/bin/python3 scripts/make_sinc_golden.py

The two conventions, re-implemented here line by line from their sources (small sizes, float64 throughout):
  * sincnet:  pyannote-audio 1.x pyannote/audio/models/sincnet.py SincConv1d (from mravanelli/SincNet
    dnn_models.py sinc_conv): half window 0.54 - 0.46*cos(2*pi*linspace(0, K/2 - 1, int(K/2))/K),
    C cosine band-pass filters.
  * asteroid: asteroid-filterbanks asteroid_filterbanks/param_sinc_fb.py ParamSincFB (voxceleb_trainer's RawNet3):
    half window np.hamming(K)[:K//2], cosine filters then sine filters (2C).
Both: low = min_low_hz + |low_hz_|, high = clamp(low + min_band_hz + |band_hz_|, min_low_hz, fs/2),
(sin(high*n) - sin(low*n)) / (n/2) * window on the left half, 2*band at the centre, mirrored, / (2*band).

A file is a list of sections "name count" followed by count numbers (row-major):
  meta (convention K stride padding sample_rate min_low_hz min_band_hz C N L), init_low, init_band (the
  reference's own initial parameters, float32 as its nn.Parameters hold them), low, band (the perturbed cut-offs
  the rest uses: one low_hz_ negative, one band pushed past fs/2 so the clamp acts), x (N, 1, L), filters (F, K),
  y (N, F, L_out), wy (the cotangent), dlow, dband, dx (gradients of sum(wy * y)).
"""
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "sinc")


def to_mel(hz):
    return 2595 * np.log10(1 + hz / 700)


def to_hz(mel):
    return 700 * (10 ** (mel / 2595) - 1)


def init_sincnet(C, fs, min_low, min_band):
    # pyannote SincConv1d.__init__: numpy float64 linspace, then torch.Tensor (float32)
    mel = np.linspace(to_mel(30), to_mel(fs / 2 - (min_low + min_band)), C + 1)
    hz = to_hz(mel)
    return torch.Tensor(hz[:-1]).view(-1, 1), torch.Tensor(np.diff(hz)).view(-1, 1)


def init_asteroid(n_filters, fs, min_low, min_band):
    # ParamSincFB._initialize_filters: float32 linspace
    mel = np.linspace(to_mel(30), to_mel(fs / 2 - (min_low + min_band)), n_filters // 2 + 1, dtype="float32")
    hz = to_hz(mel)
    return torch.from_numpy(hz[:-1]).view(-1, 1), torch.from_numpy(np.diff(hz)).view(-1, 1)


def filters(conv, low_hz_, band_hz_, K, fs, min_low, min_band):
    if conv == "sincnet":
        n_lin = torch.linspace(0, K / 2 - 1, steps=int(K / 2), dtype=torch.float64)
        window = 0.54 - 0.46 * torch.cos(2 * math.pi * n_lin / K)
        n = (K - 1) / 2.0
        n_ = 2 * math.pi * torch.arange(-n, 0, dtype=torch.float64).view(1, -1) / fs
    else:
        half = K // 2
        window = torch.from_numpy(np.hamming(K)[:half])
        n_ = 2 * np.pi * (torch.arange(-half, 0.0, dtype=torch.float64).view(1, -1) / fs)
    low = min_low + torch.abs(low_hz_)
    high = torch.clamp(low + min_band + torch.abs(band_hz_), min_low, fs / 2)
    band = (high - low)[:, 0]
    ft_low = torch.matmul(low, n_)
    ft_high = torch.matmul(high, n_)
    left = ((torch.sin(ft_high) - torch.sin(ft_low)) / (n_ / 2)) * window
    cos_f = torch.cat([left, 2 * band.view(-1, 1), torch.flip(left, dims=[1])], dim=1) / (2 * band[:, None])
    if conv == "sincnet":
        return cos_f
    left = ((torch.cos(ft_low) - torch.cos(ft_high)) / (n_ / 2)) * window
    sin_f = torch.cat([left, torch.zeros_like(band.view(-1, 1)), -torch.flip(left, dims=[1])], dim=1)
    sin_f = sin_f / (2 * band[:, None])
    return torch.cat([cos_f, sin_f], dim=0)


def write_case(name, conv, out_channels, K, stride, padding, N, L, seed, fs=16000.0, min_low=50.0, min_band=50.0):
    g = torch.Generator().manual_seed(seed)
    if conv == "sincnet":
        il, ib = init_sincnet(out_channels, fs, min_low, min_band)
    else:
        il, ib = init_asteroid(out_channels, fs, min_low, min_band)
    C = il.shape[0]
    low = il.double() * (1 + 0.2 * torch.rand(C, 1, generator=g, dtype=torch.float64))
    band = ib.double() * (1 + 0.2 * torch.rand(C, 1, generator=g, dtype=torch.float64))
    low[0, 0] = -low[0, 0]           # |low_hz_|: the sign reaches the gradient
    band[-1, 0] = fs                 # high > fs/2: clamped, no gradient through band_hz_
    low.requires_grad_(True)
    band.requires_grad_(True)
    x = (torch.rand(N, 1, L, generator=g, dtype=torch.float64) * 2 - 1).requires_grad_(True)
    f = filters(conv, low, band, K, fs, min_low, min_band)
    y = F.conv1d(x, f.view(-1, 1, K), stride=stride, padding=padding)
    wy = torch.rand(y.shape, generator=g, dtype=torch.float64) * 2 - 1
    (y * wy).sum().backward()
    meta = [0 if conv == "sincnet" else 1, K, stride, padding, fs, min_low, min_band, C, N, L]
    sections = [("meta", torch.tensor(meta, dtype=torch.float64)), ("init_low", il), ("init_band", ib),
                ("low", low), ("band", band), ("x", x), ("filters", f), ("y", y), ("wy", wy),
                ("dlow", low.grad), ("dband", band.grad), ("dx", x.grad)]
    with open(os.path.join(OUT, name + ".txt"), "w") as out:
        for key, t in sections:
            v = t.detach().double().reshape(-1).numpy()
            out.write(f"{key} {v.size}\n")
            out.write(" ".join(repr(float(e)) for e in v) + "\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    write_case("sincnet_c6_k17", "sincnet", 6, 17, 3, 2, 2, 64, 1)
    write_case("asteroid_f8_k17", "asteroid", 8, 17, 5, 0, 2, 70, 2)
    write_case("sincnet_c4_k251", "sincnet", 4, 251, 10, 0, 1, 400, 3)


if __name__ == "__main__":
    main()
