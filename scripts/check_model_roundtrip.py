#!/usr/bin/python3
"""spk -> PyTorch round trip: a model trained with spk, exported by spk_convert as a voxceleb_trainer .model, loads
into PyTorch code written from voxceleb_trainer's (scripts/golden_models/voxceleb_trainer.py) with
load_state_dict(strict=True) and gives the embeddings spk_eval gives, front end included.

Optional (needs PyTorch and torchaudio: apt-get install python3-torchaudio; run with Debian's /usr/bin/python3).
Nothing in the test suite imports it. Usage, after `bash scripts/demo.sh` (or any spk_train run of a
voxceleb_trainer model: ResNetSE34L, ResNetSE34V2, VGGVox):

    /usr/bin/python3 scripts/check_model_roundtrip.py --build build-demo \
        --checkpoint exps/demo/model/last.safetensors --wav_dir demo_data/wav --n_files 8

Steps: spk_convert CHECKPOINT -> x.model (names "__S__.*", "__L__.*", as voxceleb_trainer's
SpeakerNet.saveParameters writes them); spk_eval --mode embed --eval_frames 0 (whole utterances) on the first
n_files wav files -> x.npy; PyTorch: torch.load(x.model), the "__S__." entries into the model with strict
load_state_dict, voxceleb_trainer's front end (torchaudio MelSpectrogram, hamming window, +1e-6, log,
InstanceNorm1d; pre-emphasis for ResNetSE34V2, Hann window for VGGVox), eval-mode forward. Prints, per file, the
largest |spk - torch| relative to the largest |torch| and the cosine between the two embeddings, then a verdict.
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torchaudio

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_models import voxceleb_trainer as vt  # noqa: E402


def safetensors_metadata(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(n)).get("__metadata__", {})


def front_end(wav, model, n_mels, log_input):
    # voxceleb_trainer models/*.py: torchfb (+ PreEmphasis for V2), +1e-6, log if log_input, InstanceNorm1d.
    window = torch.hann_window if model == "VGGVox" else torch.hamming_window
    mel = torchaudio.transforms.MelSpectrogram(sample_rate=16000, n_fft=512, win_length=400, hop_length=160,
                                               window_fn=window, n_mels=n_mels)
    x = wav.unsqueeze(0)
    if model == "ResNetSE34V2":   # PreEmphasis(0.97): reflect pad, conv1d with [-0.97, 1]
        x = torch.nn.functional.pad(x.unsqueeze(1), (1, 0), "reflect")
        x = torch.nn.functional.conv1d(x, torch.tensor([[[-0.97, 1.0]]])).squeeze(1)
    x = mel(x) + 1e-6
    if log_input:
        x = x.log()
    return torch.nn.InstanceNorm1d(n_mels)(x)


def build(model, cfg):
    if model == "ResNetSE34L":
        return vt.ResNetSE34L(cfg["nOut"], cfg["encoder_type"])
    if model == "ResNetSE34V2":
        return vt.ResNetSE34V2(cfg["nOut"], cfg["encoder_type"], cfg["n_mels"])
    if model == "VGGVox":
        return vt.VGGVox(cfg["nOut"], cfg["encoder_type"])
    sys.exit(f"check_model_roundtrip: --model {model} has no voxceleb_trainer definition here")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--checkpoint", required=True, help="an spk checkpoint (.safetensors) of a voxceleb_trainer model")
    ap.add_argument("--wav_dir", required=True)
    ap.add_argument("--n_files", type=int, default=8)
    args = ap.parse_args()

    cfg = json.loads(safetensors_metadata(args.checkpoint)["spk.config"])
    model = cfg["model"]
    wavs = sorted(os.path.join(r, f) for r, _, fs in os.walk(args.wav_dir) for f in fs if f.endswith(".wav"))
    wavs = wavs[: args.n_files]
    if not wavs:
        sys.exit(f"check_model_roundtrip: no .wav files under {args.wav_dir}")
    tmp = tempfile.mkdtemp(prefix="spk_roundtrip_")
    exported = os.path.join(tmp, "x.model")
    apps = os.path.join(args.build, "apps")
    subprocess.run([os.path.join(apps, "spk_convert"), args.checkpoint, exported], check=True)
    with open(os.path.join(tmp, "list.txt"), "w") as f:
        f.write("\n".join(wavs) + "\n")
    subprocess.run([os.path.join(apps, "spk_eval"), "--mode", "embed", "--initial_model", args.checkpoint,
                    "--eval_frames", "0", "--embed_list", os.path.join(tmp, "list.txt"), "--embed_out",
                    os.path.join(tmp, "emb")], check=True, stdout=subprocess.DEVNULL)
    spk_emb = np.load(os.path.join(tmp, "emb.npy"))

    state = torch.load(exported)   # what voxceleb_trainer's loadParameters reads
    net = build(model, cfg)
    body = {k[len("__S__."):]: v for k, v in state.items() if k.startswith("__S__.")}
    net.load_state_dict(body, strict=True)
    net.eval()
    worst = 0.0
    with torch.no_grad():
        for i, path in enumerate(wavs):
            wav, sr = torchaudio.load(path)
            assert sr == 16000, f"{path}: {sr} Hz"
            feats = front_end(wav[0], model, cfg["n_mels"], cfg["log_input"])
            ref = net(feats).numpy()[0]
            rel = float(np.abs(spk_emb[i] - ref).max() / np.abs(ref).max())
            cos = float(spk_emb[i] @ ref / np.linalg.norm(spk_emb[i]) / np.linalg.norm(ref))
            worst = max(worst, rel)
            print(f"{os.path.relpath(path, args.wav_dir)}: max|spk - torch| / max|torch| = {rel:.2e}  cosine {cos:.8f}")
    ok = worst < 1e-4
    print(f"round trip {model} ({len(wavs)} files, torch {torch.__version__}): worst relative difference "
          f"{worst:.2e} -> {'OK' if ok else 'MISMATCH'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
