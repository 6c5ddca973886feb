#!/usr/bin/env python3
"""Baseline EER of a VoxCeleb-style corpus (made for the espeak-ng demo corpus, docs/demo_corpus.md).

How hard is the task? Each utterance -> mean over frames of its 40-band log-mel spectrum
(25 ms Hamming window, 10 ms hop, 512-point FFT, HTK mel 0..8000 Hz, log(M + 1e-6): the
voxceleb_trainer front end of models/ResNetSE34L.py, without InstanceNorm, which would zero the mean)
-> subtract the mean vector of the training utterances -> cosine score per trial -> EER exactly
as voxceleb_trainer's tuneThresholdfromScore computes it (sklearn roc_curve with
drop_intermediate, idx = argmin |FNR - FPR|, EER = max(FPR, FNR) at idx, no interpolation) and
minDCF (p_target 0.05, C_miss = C_fa = 1, Kaldi's ComputeMinDcf as copied into voxceleb_trainer
tuneThreshold.py).

With --lda it also reports a second, *trained* baseline (LDA fitted on the train speakers over
mean+std log-mel) to show that the task is learnable from the training list: unseen test
speakers get a clearly lower EER than with the untrained feature.

numpy only (pip install numpy); no part of the product or of the tests depends on this script.
usage: baseline_eer.py [--data DIR] [--lda] [--max-train N]
"""

import argparse
import os
import sys
import wave

import numpy as np

SR, N_FFT, WIN, HOP, N_MELS = 16000, 512, 400, 160, 40


def read_wav(path):
    with wave.open(path, "rb") as w:
        if w.getframerate() != SR or w.getnchannels() != 1 or w.getsampwidth() != 2:
            sys.exit("baseline_eer: %s is not 16 kHz mono 16-bit" % path)
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return x.astype(np.float64) / 32768.0


def mel_fbank():
    """torchaudio melscale_fbanks(257, 0, 8000, 40, 16000, norm=None, 'htk'): (257, 40)."""
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)
    all_freqs = np.linspace(0, SR / 2, N_FFT // 2 + 1)
    m_pts = np.linspace(mel(0.0), mel(SR / 2), N_MELS + 2)
    f_pts = 700.0 * (10.0 ** (m_pts / 2595.0) - 1.0)
    f_diff = np.diff(f_pts)
    slopes = f_pts[None, :] - all_freqs[:, None]
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return np.maximum(0.0, np.minimum(down, up))


FBANK = mel_fbank()
# Periodic Hamming (torch.hamming_window(400)), centred in the 512-point frame.
WINDOW = np.zeros(N_FFT)
WINDOW[(N_FFT - WIN) // 2:(N_FFT - WIN) // 2 + WIN] = \
    0.54 - 0.46 * np.cos(2 * np.pi * np.arange(WIN) / WIN)


def log_mel(x):
    """(T, 40) log-mel frames; center=True with reflect padding as in torchaudio."""
    x = np.pad(x, N_FFT // 2, mode="reflect")
    n_frames = 1 + (len(x) - N_FFT) // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(n_frames)[:, None]
    spec = np.abs(np.fft.rfft(x[idx] * WINDOW, axis=1)) ** 2
    return np.log(spec @ FBANK + 1e-6)


def features(paths, root):
    """Per file: (mean, std) of log-mel over frames, stacked as (N, 40) each."""
    means, stds = [], []
    for p in paths:
        lm = log_mel(read_wav(os.path.join(root, p)))
        means.append(lm.mean(axis=0))
        stds.append(lm.std(axis=0))
    return np.array(means), np.array(stds)


def roc_curve(labels, scores):
    """sklearn.metrics.roc_curve(labels, scores, pos_label=1) with drop_intermediate=True."""
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], labels[order]
    distinct = np.where(np.diff(s))[0]
    thr_idx = np.r_[distinct, len(y) - 1]
    tps = np.cumsum(y)[thr_idx]
    fps = 1 + thr_idx - tps
    keep = np.where(np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True])[0]
    tps, fps = np.r_[0, tps[keep]], np.r_[0, fps[keep]]
    return fps / fps[-1], tps / tps[-1]


def eer_vt(labels, scores):
    """voxceleb_trainer tuneThresholdfromScore: EER in percent."""
    fpr, tpr = roc_curve(labels, scores)
    fnr = 1.0 - tpr
    idx = np.nanargmin(np.abs(fnr - fpr))
    return 100.0 * max(fpr[idx], fnr[idx])


def min_dcf(labels, scores, p_target=0.05, c_miss=1.0, c_fa=1.0):
    """ComputeErrorRates + ComputeMinDcf (NIST SRE16), as in voxceleb_trainer."""
    order = np.argsort(scores, kind="mergesort")
    y = labels[order]
    fnr = np.cumsum(y) / y.sum()
    fpr = 1.0 - np.cumsum(1 - y) / (1 - y).sum()
    c_det = c_miss * fnr * p_target + c_fa * fpr * (1 - p_target)
    return c_det.min() / min(c_miss * p_target, c_fa * (1 - p_target))


def cosine_scores(emb, index, trials):
    e = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    a = np.array([index[t[1]] for t in trials])
    b = np.array([index[t[2]] for t in trials])
    return np.sum(e[a] * e[b], axis=1)


def lda(x, spk, dim):
    """Fisher LDA projection (D, dim) from within/between-speaker scatter."""
    mu = x.mean(axis=0)
    sw = np.zeros((x.shape[1],) * 2)
    sb = np.zeros_like(sw)
    for s in np.unique(spk):
        xs = x[spk == s]
        m = xs.mean(axis=0)
        sw += (xs - m).T @ (xs - m)
        sb += len(xs) * np.outer(m - mu, m - mu)
    sw += 1e-6 * np.trace(sw) / len(sw) * np.eye(len(sw))
    evals, evecs = np.linalg.eig(np.linalg.solve(sw, sb))
    order = np.argsort(-evals.real)[:dim]
    return evecs[:, order].real


def main():
    ap = argparse.ArgumentParser(description="Baseline EER: mean log-mel + cosine (see docstring)")
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--data", default=os.path.join(here, "..", "demo_data"),
                    help="corpus directory with wav/, train_list.txt, test_list.txt")
    ap.add_argument("--lda", action="store_true", help="also report an LDA baseline trained on train")
    ap.add_argument("--max-train", type=int, default=0, help="use at most N train utterances (0: all)")
    args = ap.parse_args()

    root = os.path.join(args.data, "wav")
    with open(os.path.join(args.data, "test_list.txt")) as f:
        trials = [line.split() for line in f if line.strip()]
    with open(os.path.join(args.data, "train_list.txt")) as f:
        train = [line.split() for line in f if line.strip()]
    if args.max_train:
        train = train[:args.max_train]
    labels = np.array([int(t[0]) for t in trials])
    test_files = sorted({p for t in trials for p in t[1:3]})
    index = {p: i for i, p in enumerate(test_files)}

    tr_mean, tr_std = features([t[1] for t in train], root)
    te_mean, te_std = features(test_files, root)
    print("trials %d (%d target, %d non-target) over %d test files; %d train files" % (
        len(trials), labels.sum(), len(labels) - labels.sum(), len(test_files), len(train)))
    print("chance level: EER 50.00 %")

    s = cosine_scores(te_mean - tr_mean.mean(axis=0), index, trials)
    print("mean log-mel, train-mean centred, cosine: EER %.2f %%  minDCF(0.05) %.4f" % (
        eer_vt(labels, s), min_dcf(labels, s)))
    s = cosine_scores(te_mean, index, trials)
    print("mean log-mel, uncentred, cosine:          EER %.2f %%  minDCF(0.05) %.4f" % (
        eer_vt(labels, s), min_dcf(labels, s)))

    if args.lda:
        spk = np.array([t[0] for t in train])
        xtr = np.hstack([tr_mean, tr_std])
        mu, sd = xtr.mean(axis=0), xtr.std(axis=0) + 1e-8
        w = lda((xtr - mu) / sd, spk, dim=min(40, len(np.unique(spk)) - 1))
        emb = ((np.hstack([te_mean, te_std]) - mu) / sd) @ w
        s = cosine_scores(emb, index, trials)
        print("LDA (trained on train speakers), cosine:  EER %.2f %%  minDCF(0.05) %.4f" % (
            eer_vt(labels, s), min_dcf(labels, s)))


if __name__ == "__main__":
    main()
