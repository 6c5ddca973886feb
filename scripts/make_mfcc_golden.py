#!/usr/bin/python3
"""Golden outputs for the MFCC front end (engine/audio/mfcc.h, kernels/fbank/mfcc.h), computed with torchaudio.

Writes tests/data/mfcc/: golden.json (the manifest), sig_<name>.f32 (input waveforms) and out_<case>_<group>.f32
(expected cepstra, (B, n_ceps, T)), raw little-endian float32, row-major. tests/audio/test_mfcc.cpp reads them; it
never imports torch. Run with Debian's python (apt-get install python3-torchaudio), not a pyenv one:

    /usr/bin/python3 scripts/make_mfcc_golden.py

The two conventions:
  * torchaudio: torchaudio.transforms.MFCC(sample_rate, n_mfcc, dct_type=2, norm='ortho', log_mels, melkwargs),
    i.e. MelSpectrogram(**melkwargs), then AmplitudeToDB('power', top_db=80) (log_mels=False) or log(mel + 1e-6)
    (log_mels=True), then the orthonormal DCT-II (torchaudio.functional.create_dct). Called on ONE waveform at a
    time: with a (B, L) batch torchaudio's top_db clamp takes the maximum over the whole batch (amplitude_to_DB
    treats the batch dim as channels), where spk clamps per utterance (docs/frontend.md).
  * kaldi: torchaudio.compliance.kaldi.mfcc(wav * scale, dither=0, ...), transposed to (n_ceps, T).
As in make_fbank_golden.py the computation runs with torch's default dtype set to float64 on the float32 inputs
stored in sig_*.f32; outputs are rounded to float32 when written.
"""
import json
import os
import sys

import numpy as np
import torch
import torchaudio
import torchaudio.compliance.kaldi as kaldi

torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "mfcc")


def signals():
    """Deterministic test signals at 16 kHz and 8 kHz (name -> (sample_rate, float32 samples))."""
    rng = np.random.default_rng(20261206)
    out = {}
    for sr, tag in ((16000, ""), (8000, "8k")):
        n = sr // 2
        t = np.arange(n) / sr
        f0, f1, dur = 50.0, 0.49 * sr, 0.5   # linear chirp to just below Nyquist: wide dynamic range per frame
        out["chirp" + tag] = (sr, 0.5 * np.sin(2 * np.pi * (f0 * t + 0.5 * (f1 - f0) / dur * t * t)))
        out["noise" + tag] = (sr, 0.1 * rng.standard_normal(n))
        out["sines" + tag] = (sr, 0.3 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 1000 * t + 0.3) + 0.05)
        n_odd = int(0.27 * sr) + 1
        t_odd = np.arange(n_odd) / sr
        # A decaying tone over faint noise: late frames are quiet, so Kaldi's energy floor and top_db bite.
        out["odd" + tag] = (sr, 0.25 * np.sin(2 * np.pi * 600 * t_odd) * np.exp(-12 * t_odd)
                            + 1e-4 * rng.standard_normal(n_odd))
    return {k: (sr, v.astype(np.float32)) for k, (sr, v) in out.items()}


# FbankConfig fields (kernels/fbank/fbank.h) of the log-mel stage, per convention and rate.
def ta_mel(sr, **kw):
    n_fft, win, hop = (512, 400, 160) if sr == 16000 else (256, 200, 80)
    mel = dict(mode="torchaudio", sample_rate=sr, n_fft=n_fft, win_length=win, hop_length=hop, window="hann",
               center=True, preemph=0.0, n_mels=40, f_min=0.0, f_max=0.0, input_scale=1.0, log=True, norm="none")
    mel.update(kw)
    return mel


def ka_mel(sr, **kw):
    n_fft, win, hop = (512, 400, 160) if sr == 16000 else (256, 200, 80)
    mel = dict(mode="kaldi", sample_rate=sr, n_fft=n_fft, win_length=win, hop_length=hop, window="povey",
               snip_edges=True, remove_dc_offset=True, preemph=0.97, n_mels=23, f_min=20.0, f_max=0.0,
               input_scale=1.0, energy_offset=0.0, energy_floor=float(np.finfo(np.float32).eps), log=True,
               norm="none")
    mel.update(kw)
    return mel


# MfccConfig fields: fbank (the log-mel stage), n_ceps, db / top_db (torchaudio log_mels=False), lifter, use_energy,
# raw_energy, energy_floor (Kaldi). torchaudio cases fill in the fbank log fields from log_mels in torchaudio_case().
def ta(sr, n_ceps, log_mels, **mel):
    return dict(convention="torchaudio", log_mels=log_mels, n_ceps=n_ceps, fbank=ta_mel(sr, **mel))


def ka(sr, n_ceps, lifter=22.0, use_energy=False, energy_floor=1.0, raw_energy=True, **mel):
    return dict(convention="kaldi", n_ceps=n_ceps, lifter=lifter, use_energy=use_energy, energy_floor=energy_floor,
                raw_energy=raw_energy, db=False, top_db=0.0, fbank=ka_mel(sr, **mel))


CASES = {
    # torchaudio.transforms.MFCC: dB (log_mels=False, top_db 80) and natural log (log_mels=True)
    "ta_db_c13_m40": ta(16000, 13, False),
    "ta_db_c40_m80_hamming_band": ta(16000, 40, False, n_mels=80, window="hamming", f_min=20.0, f_max=7600.0),
    "ta_log_c20_m40": ta(16000, 20, True),
    "ta_log_c30_m64_nocenter_int16": ta(16000, 30, True, n_mels=64, center=False, input_scale=32768.0),
    "ta_db_c13_m23_8k": ta(8000, 13, False, n_mels=23),
    "ta_log_c20_m40_8k": ta(8000, 20, True),
    # torchaudio.compliance.kaldi.mfcc
    "ka_default_int16": ka(16000, 13, input_scale=32768.0),                                 # torchaudio defaults
    "ka_energy_floor1": ka(16000, 13, use_energy=True, energy_floor=1.0),   # quiet frames hit ln(1) = 0
    "ka_energy_rawfalse_hamming": ka(16000, 20, use_energy=True, energy_floor=0.0, raw_energy=False, n_mels=40,
                                     window="hamming"),
    "ka_nolifter_c30_m30_nosnip": ka(16000, 30, lifter=0.0, n_mels=30, snip_edges=False, f_max=7600.0,
                                     input_scale=32768.0),
    # Kaldi's x-vector recipe, egs/voxceleb/v2/conf/mfcc.conf: 30 mels, 30 ceps, 20-7600 Hz, snip_edges false, and
    # compute-mfcc-feats' own use_energy (true) and energy_floor (0) defaults; int16 samples (spk preset
    # kaldi_voxceleb)
    "ka_voxceleb_v2": ka(16000, 30, use_energy=True, energy_floor=0.0, n_mels=30, f_min=20.0, f_max=7600.0,
                         snip_edges=False, input_scale=32768.0),
    "ka_c23_m40_50_7500_energy": ka(16000, 23, use_energy=True, energy_floor=0.0, n_mels=40, f_min=50.0,
                                    f_max=7500.0, snip_edges=False, input_scale=32768.0),
    "ka_8k_c13_m15_energy": ka(8000, 13, use_energy=True, energy_floor=1.0, n_mels=15, input_scale=32768.0),
    "ka_8k_c40_m40_nolifter": ka(8000, 40, lifter=0.0, n_mels=40, f_min=0.0, window="hann", remove_dc_offset=False,
                                 preemph=0.0),
}

GROUPS = {16000: [["chirp", "noise", "sines"], ["odd"]], 8000: [["chirp8k", "noise8k", "sines8k"], ["odd8k"]]}


def torchaudio_case(cfg):
    """Fills in the log fields and returns the transform."""
    mel, sr = cfg["fbank"], cfg["fbank"]["sample_rate"]
    if cfg["log_mels"]:
        mel.update(energy_offset=1e-6, energy_floor=0.0)   # log(mel + 1e-6)
        cfg.update(db=False, top_db=0.0)
    else:
        mel.update(energy_offset=0.0, energy_floor=1e-10)  # AmplitudeToDB: 10 log10(max(mel, amin = 1e-10))
        cfg.update(db=True, top_db=80.0)
    cfg.update(lifter=0.0, use_energy=False, raw_energy=True, energy_floor=0.0)
    window_fn = {"hamming": torch.hamming_window, "hann": torch.hann_window}[mel["window"]]
    melkwargs = dict(n_fft=mel["n_fft"], win_length=mel["win_length"], hop_length=mel["hop_length"],
                     f_min=mel["f_min"], f_max=mel["f_max"] if mel["f_max"] > 0 else None, n_mels=mel["n_mels"],
                     window_fn=window_fn, center=mel["center"])
    return torchaudio.transforms.MFCC(sample_rate=sr, n_mfcc=cfg["n_ceps"], dct_type=2, norm="ortho",
                                      log_mels=cfg["log_mels"], melkwargs=melkwargs)


def run_case(cfg, x, transform):
    """x: (B, L) float64 -> (B, n_ceps, T), one utterance at a time."""
    mel = cfg["fbank"]
    outs = []
    for row in x:
        row = row * mel["input_scale"]
        if cfg["convention"] == "torchaudio":
            outs.append(transform(row))
            continue
        sr = mel["sample_rate"]
        feats = kaldi.mfcc(row.unsqueeze(0), cepstral_lifter=cfg["lifter"], dither=0.0,
                           energy_floor=cfg["energy_floor"], frame_length=mel["win_length"] * 1000.0 / sr,
                           frame_shift=mel["hop_length"] * 1000.0 / sr, high_freq=mel["f_max"], low_freq=mel["f_min"],
                           num_ceps=cfg["n_ceps"], num_mel_bins=mel["n_mels"],
                           preemphasis_coefficient=mel["preemph"], raw_energy=cfg["raw_energy"],
                           remove_dc_offset=mel["remove_dc_offset"], sample_frequency=float(sr),
                           snip_edges=mel["snip_edges"], use_energy=cfg["use_energy"],
                           window_type={"hann": "hanning"}.get(mel["window"], mel["window"]))
        outs.append(feats.T)
    return torch.stack(outs)


def write_f32(name, array):
    np.ascontiguousarray(array, dtype="<f4").tofile(os.path.join(OUT, name))


def main():
    os.makedirs(OUT, exist_ok=True)
    sig = signals()
    manifest = {"generator": "scripts/make_mfcc_golden.py", "torch": torch.__version__,
                "torchaudio": torchaudio.__version__, "signals": {}, "cases": []}
    for name, (sr, v) in sig.items():
        write_f32(f"sig_{name}.f32", v)
        manifest["signals"][name] = {"file": f"sig_{name}.f32", "length": int(v.size), "sample_rate": sr}

    for case, cfg in CASES.items():
        transform = torchaudio_case(cfg) if cfg["convention"] == "torchaudio" else None
        for group in GROUPS[cfg["fbank"]["sample_rate"]]:
            x = torch.from_numpy(np.stack([sig[s][1] for s in group]).astype(np.float64))
            with torch.no_grad():
                y = run_case(cfg, x, transform)
            fname = f"out_{case}_{group[0]}.f32"
            write_f32(fname, y.numpy())
            manifest["cases"].append({"name": f"{case}/{'+'.join(group)}", "config": cfg, "signals": group,
                                      "shape": list(y.shape), "file": fname})
            print(f"{case}/{'+'.join(group)}: {tuple(y.shape)} range [{y.min():.3g}, {y.max():.3g}]",
                  file=sys.stderr)

    with open(os.path.join(OUT, "golden.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f"wrote {len(manifest['cases'])} cases to {os.path.normpath(OUT)} ({total / 1024:.0f} KiB)", file=sys.stderr)


if __name__ == "__main__":
    main()
