#!/usr/bin/env python3
"""Optional check of spk_export (docs/onnx.md): the exported graph, run in ONNX Runtime, gives spk_eval's embeddings.

For one checkpoint: exports it with spk_export, embeds the given wav files with `spk_eval --mode embed
--eval_frames 0` (whole utterances, not L2-normalised: what the graph outputs), runs the graph on each file in ONNX
Runtime (batch 1, each file its own length: the time axis is dynamic), and once more on all files cut to the
shortest length in one batch (the batch axis is dynamic; compared with batch-1 runs of the cut files), and prints the
worst absolute difference. Exit status 0 when every difference is <= --tol (1e-4), 1 otherwise.

Needs onnxruntime, onnx and numpy (not Debian's python3-onnx 1.12, which has no runtime):
    python3 -m venv /work/venv-onnx && /work/venv-onnx/bin/pip install onnxruntime onnx numpy
    /work/venv-onnx/bin/python scripts/check_onnx.py --build build --initial_model CKPT --wav a.wav b.wav \
        [-- extra model flags for both apps, e.g. --model ResNetSE34L --nOut 256]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import wave

import numpy as np


def read_wav(path):
    """16-bit PCM mono -> float32 in [-1, 1), as libsndfile reads it for spk (sample / 32768)."""
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            sys.exit(f"check_onnx: {path}: only 16-bit mono PCM wav files are read here")
        data = w.readframes(w.getnframes())
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"check_onnx: {' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    return r


def spk_embeddings(build, ckpt, wavs, flags, work):
    """spk_eval --mode embed of `wavs` (absolute paths): {path: embedding}."""
    lst = os.path.join(work, "list.txt")
    with open(lst, "w") as f:
        f.write("".join(w + "\n" for w in wavs))
    stem = os.path.join(work, "spk")
    run([os.path.join(build, "apps", "spk_eval"), "--mode", "embed", "--initial_model", ckpt, "--embed_list", lst,
         "--embed_out", stem, "--eval_frames", "0", "--nDataLoaderThread", "1"] + flags)
    emb = np.load(stem + ".npy")
    keys = [l.strip() for l in open(stem + ".index.txt") if l.strip()]
    return dict(zip(keys, emb))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build", help="the CMake build directory (apps/spk_export, apps/spk_eval)")
    ap.add_argument("--initial_model", required=True)
    ap.add_argument("--wav", nargs="+", required=True, help="16-kHz mono wav files of different lengths")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--json", default="", help="append the result as one JSON line here")
    ap.add_argument("flags", nargs="*", help="model flags passed to spk_export and spk_eval (after --)")
    a = ap.parse_args()
    import onnx
    import onnxruntime as ort

    wavs = [os.path.abspath(w) for w in a.wav]
    with tempfile.TemporaryDirectory(prefix="check_onnx_") as work:
        model_path = os.path.join(work, "model.onnx")
        run([os.path.join(a.build, "apps", "spk_export"), "--onnx", model_path, "--initial_model", a.initial_model]
            + a.flags)
        onnx.checker.check_model(onnx.load(model_path))
        ref = spk_embeddings(a.build, a.initial_model, wavs, a.flags, work)
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        sess = ort.InferenceSession(model_path, so, providers=["CPUExecutionProvider"])
        meta = sess.get_modelmeta().custom_metadata_map
        worst, rows = 0.0, []
        for w in wavs:
            x = read_wav(w)
            got = sess.run(["embedding"], {"wav": x[None, :]})[0][0]
            d = float(np.max(np.abs(got - ref[w])))
            rows.append({"file": "/".join(w.split(os.sep)[-3:]), "samples": int(x.size), "max_abs_diff": d,
                         "max_abs_embedding": float(np.max(np.abs(ref[w])))})
            worst = max(worst, d)
        # The batch axis: all files cut to the shortest, in one batch, against batch-1 runs of the same cuts.
        n = min(r["samples"] for r in rows)
        batch = np.stack([read_wav(w)[:n] for w in wavs])
        together = sess.run(["embedding"], {"wav": batch})[0]
        alone = np.concatenate([sess.run(["embedding"], {"wav": batch[i:i + 1]})[0] for i in range(len(wavs))])
        batch_diff = float(np.max(np.abs(together - alone)))
    result = {"model": meta.get("spk.model", "?"), "frontend": meta.get("spk.frontend", "?"),
              "checkpoint": a.initial_model, "files": rows, "max_abs_diff": worst, "batch_vs_single": batch_diff,
              "tol": a.tol, "onnxruntime": ort.__version__, "onnx": onnx.__version__, "numpy": np.__version__}
    print(json.dumps(result, indent=1))
    if a.json:
        with open(a.json, "a") as f:
            f.write(json.dumps(result) + "\n")
    ok = worst <= a.tol and batch_diff <= a.tol
    print(f"check_onnx: {result['model']}: max |onnxruntime - spk_eval| = {worst:.3g} over {len(rows)} files, "
          f"batch vs single {batch_diff:.3g}: {'OK' if ok else 'FAIL'} (tol {a.tol:g})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
