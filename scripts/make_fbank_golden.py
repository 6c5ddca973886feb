#!/usr/bin/python3
"""Golden outputs for the log-mel front end (kernels/fbank), computed with torchaudio.

Writes tests/data/fbank/: golden.json (the manifest), sig_<name>.f32 (input waveforms) and out_<case>.f32 / fb_<name>.f32
(expected outputs), all raw little-endian float32, row-major. tests/audio/test_fbank.cpp reads them; it never imports
torch. Run with Debian's python (apt-get install python3-torchaudio), not a pyenv one:

    /usr/bin/python3 scripts/make_fbank_golden.py

How the reference systems call their front ends (voxceleb_trainer models/ResNetSE34L.py and ResNetSE34V2.py,
TaoRuijie/ECAPA-TDNN model.py, wespeaker wespeaker/dataset/processor.py, 3D-Speaker speakerlab/process/processor.py):
  * torchaudio mode replicates voxceleb_trainer / TaoRuijie: PreEmphasis as reflect pad + conv1d([-c, 1]), then
    torchaudio.transforms.MelSpectrogram(16000, n_fft 512, win 400, hop 160, window_fn, n_mels, f_min, f_max),
    + 1e-6, log, InstanceNorm1d(n_mels) or mean subtraction over time.
  * kaldi mode replicates wespeaker / 3D-Speaker: torchaudio.compliance.kaldi.fbank(wav * scale, dither=0, ...),
    then per-utterance mean subtraction (CMN), transposed to (n_mels, T).
The computation runs with torch's default dtype set to float64, so windows, filterbanks and the FFT are the exact
values that torch's float32 defaults approximate; the inputs are the float32 values stored in sig_*.f32. The
outputs are rounded to float32 when written.
"""
import json
import os
import sys

import numpy as np
import torch
import torchaudio
import torchaudio.compliance.kaldi as kaldi

torch.set_default_dtype(torch.float64)
SR = 16000
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "fbank")


def signals():
    rng = np.random.default_rng(20240611)
    t = np.arange(8000) / SR
    # Linear chirp 50 Hz -> 7900 Hz over 0.5 s, amplitude 0.5.
    f0, f1, dur = 50.0, 7900.0, 0.5
    chirp = 0.5 * np.sin(2 * np.pi * (f0 * t + 0.5 * (f1 - f0) / dur * t * t))
    noise = 0.1 * rng.standard_normal(8000)
    sines = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 1000 * t + 0.3) \
        + 0.1 * np.sin(2 * np.pi * 3150 * t + 1.1) + 0.05   # a DC offset too, for Kaldi's DC removal
    short = 0.2 * rng.standard_normal(400) + 0.1 * np.sin(2 * np.pi * 440 * np.arange(400) / SR)
    t_odd = np.arange(4321) / SR
    odd = 0.25 * np.sin(2 * np.pi * 600 * t_odd) * np.exp(-3 * t_odd) + 0.02 * rng.standard_normal(4321)
    sig = dict(chirp=chirp, noise=noise, sines=sines, short=short, odd=odd)
    return {k: v.astype(np.float32) for k, v in sig.items()}


# Our FbankConfig fields (kernels/fbank/fbank.h) for each case; the torch call is derived from them below.
TA = dict(mode="torchaudio", n_fft=512, win_length=400, hop_length=160, window="hamming", center=True, preemph=0.0,
          n_mels=40, f_min=0.0, f_max=0.0, input_scale=1.0, energy_offset=1e-6, energy_floor=0.0, log=True,
          norm="instance", norm_eps=1e-5)
KA = dict(mode="kaldi", n_fft=512, win_length=400, hop_length=160, window="povey", snip_edges=True,
          remove_dc_offset=True, preemph=0.97, n_mels=80, f_min=20.0, f_max=0.0, input_scale=1.0, energy_offset=0.0,
          energy_floor=float(np.finfo(np.float32).eps), log=True, norm="none")

CASES = {
    "ta_resnetse34l": dict(TA),                                                   # hamming 40, log, instance norm
    "ta_resnetse34v2": dict(TA, preemph=0.97, n_mels=64),
    "ta_vggvox": dict(TA, window="hann"),
    "ta_ecapa": dict(TA, preemph=0.97, n_mels=80, f_min=20.0, f_max=7600.0, norm="mean"),
    "ta_linear": dict(TA, log=False, norm="none"),                                # +1e-6 energies, no log
    "ta_int16_scale_nocenter": dict(TA, center=False, input_scale=32768.0, window="hann", n_mels=64, norm="none"),
    "ka_wespeaker": dict(KA, window="hamming", input_scale=32768.0, norm="mean"),
    "ka_3dspeaker": dict(KA, norm="mean"),
    "ka_povey40_nosnip": dict(KA, n_mels=40, snip_edges=False),
    "ka_hann_nodc_nopre": dict(KA, window="hann", remove_dc_offset=False, preemph=0.0, n_mels=23, f_min=60.0,
                               f_max=-400.0, input_scale=32768.0),
    "ka_rect_linear": dict(KA, window="rectangular", n_mels=64, log=False, input_scale=32768.0),
    "ka_hamming_instance": dict(KA, window="hamming", n_mels=64, norm="instance", norm_eps=1e-5),
}

GROUPS = [["chirp", "noise", "sines"], ["short"], ["odd"]]


def torchaudio_mode(cfg, x):
    """x: (B, L) float64 tensor."""
    x = x * cfg["input_scale"]
    if cfg["preemph"] > 0:
        flipped = torch.tensor([-cfg["preemph"], 1.0]).view(1, 1, 2)
        x = torch.nn.functional.conv1d(torch.nn.functional.pad(x.unsqueeze(1), (1, 0), "reflect"), flipped).squeeze(1)
    window_fn = {"hamming": torch.hamming_window, "hann": torch.hann_window,
                 "rectangular": lambda n, **kw: torch.ones(n)}[cfg["window"]]
    f_max = cfg["f_max"] if cfg["f_max"] > 0 else None
    mel = torchaudio.transforms.MelSpectrogram(sample_rate=SR, n_fft=cfg["n_fft"], win_length=cfg["win_length"],
                                               hop_length=cfg["hop_length"], f_min=cfg["f_min"], f_max=f_max,
                                               window_fn=window_fn, n_mels=cfg["n_mels"], center=cfg["center"])
    y = mel(x) + cfg["energy_offset"]
    if cfg["log"]:
        y = torch.clamp(y, min=cfg["energy_floor"]).log() if cfg["energy_floor"] > 0 else y.log()
    return normalise(cfg, y)


def normalise(cfg, y):
    """y: (B, n_mels, T)."""
    if cfg["norm"] == "instance":
        if y.shape[-1] == 1:
            # torch refuses instance statistics over a single frame; the formula gives zeros, which is what we output.
            return (y - y.mean(-1, keepdim=True)) / torch.sqrt(y.var(-1, unbiased=False, keepdim=True) + cfg["norm_eps"])
        return torch.nn.InstanceNorm1d(cfg["n_mels"], eps=cfg["norm_eps"])(y)
    if cfg["norm"] == "mean":
        return y - y.mean(dim=-1, keepdim=True)
    return y


def kaldi_mode(cfg, x):
    outs = []
    for row in x:
        feats = kaldi.fbank(row.unsqueeze(0) * cfg["input_scale"], num_mel_bins=cfg["n_mels"], frame_length=25.0,
                            frame_shift=10.0, dither=0.0, sample_frequency=SR,
                            window_type={"hann": "hanning"}.get(cfg["window"], cfg["window"]),
                            use_energy=False, snip_edges=cfg["snip_edges"], remove_dc_offset=cfg["remove_dc_offset"],
                            preemphasis_coefficient=cfg["preemph"], low_freq=cfg["f_min"], high_freq=cfg["f_max"],
                            use_log_fbank=cfg["log"])
        outs.append(feats.T)    # (n_mels, T)
    return normalise(cfg, torch.stack(outs))


def write_f32(name, array):
    np.ascontiguousarray(array, dtype="<f4").tofile(os.path.join(OUT, name))


def main():
    os.makedirs(OUT, exist_ok=True)
    sig = signals()
    manifest = {"generator": "scripts/make_fbank_golden.py", "torch": torch.__version__,
                "torchaudio": torchaudio.__version__, "sample_rate": SR, "signals": {}, "cases": [], "filterbanks": []}
    for name, v in sig.items():
        write_f32(f"sig_{name}.f32", v)
        manifest["signals"][name] = {"file": f"sig_{name}.f32", "length": int(v.size)}

    for case, cfg in CASES.items():
        for group in GROUPS:
            x = torch.from_numpy(np.stack([sig[s] for s in group]).astype(np.float64))
            if cfg["mode"] == "torchaudio" and not cfg["center"] and x.shape[1] < cfg["n_fft"]:
                continue   # torch.stft(center=False) cannot make a frame: covered by the error tests instead
            with torch.no_grad():
                y = torchaudio_mode(cfg, x) if cfg["mode"] == "torchaudio" else kaldi_mode(cfg, x)
            fname = f"out_{case}_{group[0]}.f32"
            write_f32(fname, y.numpy())
            manifest["cases"].append({"name": f"{case}/{'+'.join(group)}", "config": cfg, "signals": group,
                                      "shape": list(y.shape), "file": fname})

    # The filterbanks themselves, (n_mels, n_freq): torchaudio's melscale_fbanks (returned as (n_freq, n_mels)) and
    # Kaldi's get_mel_banks (n_mels, n_fft/2) plus the zero Nyquist column that kaldi.fbank pads on.
    fb = torchaudio.functional.melscale_fbanks(257, 20.0, 7600.0, 80, SR, None, "htk").T
    write_f32("fb_htk_80_20_7600.f32", fb.numpy())
    manifest["filterbanks"].append({"name": "htk_80_20_7600", "config": CASES["ta_ecapa"], "shape": list(fb.shape),
                                    "file": "fb_htk_80_20_7600.f32"})
    kb, _ = kaldi.get_mel_banks(23, 512, float(SR), 60.0, -400.0, 100.0, -500.0, 1.0)
    kb = torch.nn.functional.pad(kb, (0, 1))
    write_f32("fb_kaldi_23_60_m400.f32", kb.numpy())
    manifest["filterbanks"].append({"name": "kaldi_23_60_m400", "config": CASES["ka_hann_nodc_nopre"],
                                    "shape": list(kb.shape), "file": "fb_kaldi_23_60_m400.f32"})

    with open(os.path.join(OUT, "golden.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f"wrote {len(manifest['cases'])} cases to {os.path.normpath(OUT)} ({total / 1024:.0f} KiB)", file=sys.stderr)


if __name__ == "__main__":
    main()
