#!/usr/bin/env python3
"""spk against PyTorch on the CPU, side by side (issue 18): training steps and whole-utterance extraction.

Optional (PyTorch + torchaudio: Debian's python3-torch / python3-torchaudio, or PyPI); no test needs it. For each
entry it runs spk_bench on that one entry, then the same work in PyTorch eager, then again, alternating
(A B A B ...) so that both sides see the same load on a shared machine, and prints the median time of each,
samples/s (or seconds of audio per second for extraction) and the ratio spk/PyTorch (> 1: spk is faster).

Entries (the spk_bench names are in bench/bench_step.cpp and bench/bench_extract.cpp):
  train_resnet   ResNetSE34L (40 mels, SAP, 512-d) + angleproto, 20 speakers x 2 crops of 32,240 samples,
                 front end + forward + backward + Adam step
  train_ecapa    ECAPA-TDNN C=512 (80 mels, 192-d) + AAM-softmax (m 0.2, s 30, 5,994 classes), 40 crops
  train_*_bf16   the same steps under bf16 autocast (spk --mixedprec bf16; torch.autocast("cpu", torch.bfloat16))
  extract_*_bf16 extraction under bf16 autocast (spk_eval --mixedprec bf16), the front end in fp32 on both sides
  extract_*      one 6-s or 20-s utterance, batch 1, eval mode, no autograd (torch.inference_mode), front end
                 included, for both models
  extract2_*     two such utterances a run: spk embeds them at once, one thread each (spk_eval --eval_jobs 2),
                 PyTorch one after the other on all threads (the anchors' extraction loops)
The PyTorch models are the project's golden references (scripts/golden_models/voxceleb_trainer.py ResNetSE34L,
scripts/golden_models/ecapa_wespeaker.py ECAPA_TDNN: the layers of voxceleb_trainer / TaoRuijie), the losses those
of bench/torch/compare_train_step.py (voxceleb_trainer's angleproto and aamsoftmax), and the front ends
voxceleb_trainer's (torchaudio MelSpectrogram, +1e-6, log, InstanceNorm1d) and TaoRuijie's (pre-emphasis 0.97,
MelSpectrogram 20-7600 Hz, +1e-6, log, mean subtraction), computed under no_grad as they do.

Clock: --clock wall (default) times what a user waits for; run it on an otherwise idle machine (the output
prints the load average before and after). --clock cpu charges each side its process CPU time divided by the
thread count, as spk_bench --clock cpu does: it is steadier on a shared machine, but it undercharges whatever
leaves a thread idle. A side running one thread of two for 24 ms is charged 12 ms, as if it had used both, so
the cpu clock cannot tell a parallel implementation from a serial one (our 2026-12-07 results up to session 2
overstated spk's batch-1 extraction this way: docs in bench/results/2026-12-07_cpu_vs_torch_session3.md).

--spk-bench-base times a second spk_bench (say, main before a change) in the same A B rounds, for a
before/after/PyTorch table from one run.

  python3 bench/torch/compare_cpu.py --spk-bench build/bench/spk_bench --threads 2 --markdown out.md
  python3 bench/torch/compare_cpu.py --spk-bench build/bench/spk_bench --spk-bench-base base/bench/spk_bench
  python3 bench/torch/compare_cpu.py --dry-run     # the plan, without running anything (no PyTorch needed)
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
sys.path.insert(0, HERE)

torch = F = torchaudio = None   # imported by load_torch(): --help and --dry-run work without PyTorch


def load_torch(clock_kind):
    """Imports PyTorch. With --clock cpu, OpenMP's idle threads sleep (OMP_WAIT_POLICY=passive, unless the caller
    set it) instead of spinning: a spinning thread burns CPU time the cpu clock would charge to PyTorch, as spk's
    work pool sleeps rather than spins. The setting must precede the import (libgomp reads it once)."""
    global torch, F, torchaudio
    if clock_kind == "cpu":
        os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    try:
        import torch as _torch
        import torch.nn.functional as _F
        import torchaudio as _torchaudio
    except ImportError:
        return False
    torch, F, torchaudio = _torch, _F, _torchaudio
    return True

ROWS, SAMPLES, SPEAKERS = 40, 32240, 20

# name -> (spk_bench entry "op variant", what one run is worth, unit). ResNetSE34L extraction is taken as spk_eval
# runs it by default: BatchNorms folded into the convs (--fold_bn).
ENTRIES = {
    "train_resnet": ("train_step(ResNetSE34L,SAP,512,angleproto,B=20x2,L=32240) cpu wav->step", ROWS, "samples/s"),
    "train_ecapa": ("train_step(ECAPA_TDNN,C=512,192,aamsoftmax,B=40,L=32240) cpu wav->step", ROWS, "samples/s"),
    # The training steps under bf16 autocast: spk --mixedprec bf16 (oneDNN's bf16 convs where the CPU has
    # AVX512-BF16/AMX, GEMMs emulated) against torch.autocast("cpu", torch.bfloat16) around forward and loss.
    "train_resnet_bf16": ("train_step(ResNetSE34L,SAP,512,angleproto,B=20x2,L=32240) cpu wav->step autocast bf16",
                          ROWS, "samples/s"),
    "train_ecapa_bf16": ("train_step(ECAPA_TDNN,C=512,192,aamsoftmax,B=40,L=32240) cpu wav->step autocast bf16",
                         ROWS, "samples/s"),
    "extract_resnet_6s": ("extract(ResNetSE34L,512,B=1,L=96000) cpu eval wav->emb bn-folded", 6, "audio s/s"),
    "extract_resnet_20s": ("extract(ResNetSE34L,512,B=1,L=320000) cpu eval wav->emb bn-folded", 20, "audio s/s"),
    "extract_ecapa_6s": ("extract(ECAPA_TDNN,C=512,192,B=1,L=96000) cpu eval wav->emb", 6, "audio s/s"),
    "extract_ecapa_20s": ("extract(ECAPA_TDNN,C=512,192,B=1,L=320000) cpu eval wav->emb", 20, "audio s/s"),
    # Extraction under bf16 autocast: spk_eval --mixedprec bf16 against torch.autocast("cpu", torch.bfloat16).
    "extract_resnet_6s_bf16": ("extract(ResNetSE34L,512,B=1,L=96000) cpu eval wav->emb bn-folded autocast bf16", 6,
                               "audio s/s"),
    "extract_ecapa_6s_bf16": ("extract(ECAPA_TDNN,C=512,192,B=1,L=96000) cpu eval wav->emb autocast bf16", 6,
                              "audio s/s"),
    # Two files a run: spk embeds them at once, one thread each (spk_eval --eval_jobs 2); PyTorch one after the
    # other on all threads, as voxceleb_trainer's and wespeaker's extraction loops do.
    "extract2_resnet_6s": ("extract(ResNetSE34L,512,B=1,L=96000) cpu eval wav->emb bn-folded 2 files at once", 12,
                           "audio s/s"),
    "extract2_resnet_20s": ("extract(ResNetSE34L,512,B=1,L=320000) cpu eval wav->emb bn-folded 2 files at once", 40,
                            "audio s/s"),
    "extract2_ecapa_6s": ("extract(ECAPA_TDNN,C=512,192,B=1,L=96000) cpu eval wav->emb 2 files at once", 12,
                          "audio s/s"),
    "extract2_ecapa_20s": ("extract(ECAPA_TDNN,C=512,192,B=1,L=320000) cpu eval wav->emb 2 files at once", 40,
                           "audio s/s"),
}


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return "unknown CPU"


# ----------------------------------------------------------------------------- PyTorch side

def front_end(kind):
    """voxceleb_trainer's ResNetSE34L front end ("resnet") or TaoRuijie's ECAPA front end ("ecapa")."""
    if kind == "resnet":
        mel = torchaudio.transforms.MelSpectrogram(sample_rate=16000, n_fft=512, win_length=400, hop_length=160,
                                                   window_fn=torch.hamming_window, n_mels=40)
        norm = torch.nn.InstanceNorm1d(40)

        def fb(wav):
            with torch.no_grad():
                return norm((mel(wav) + 1e-6).log())
        return fb
    mel = torchaudio.transforms.MelSpectrogram(sample_rate=16000, n_fft=512, win_length=400, hop_length=160,
                                               f_min=20, f_max=7600, window_fn=torch.hamming_window, n_mels=80)
    flipped = torch.FloatTensor([-0.97, 1.0]).view(1, 1, 2)

    def fb(wav):   # TaoRuijie PreEmphasis: reflect pad 1 on the left, conv1d with [-0.97, 1]
        with torch.no_grad():
            x = F.conv1d(F.pad(wav.unsqueeze(1), (1, 0), "reflect"), flipped).squeeze(1)
            x = (mel(x) + 1e-6).log()
            return x - x.mean(dim=-1, keepdim=True)
    return fb


def torch_model(kind):
    from golden_models.voxceleb_trainer import ResNetSE34L
    from golden_models.ecapa_wespeaker import ECAPA_TDNN
    if kind == "resnet":
        m = ResNetSE34L(512, "SAP")
        torch.nn.init.xavier_normal_(m.attention)
        return m
    return ECAPA_TDNN(512, 80, 192)


def torch_entry(name):
    """A closure doing one run of the entry in PyTorch eager."""
    from compare_train_step import build_models
    _, _, AAMSoftmax, AngleProto = build_models()
    kind = "resnet" if "resnet" in name else "ecapa"
    model, fb = torch_model(kind), front_end(kind)
    gen = torch.Generator().manual_seed(7)
    if name.startswith("extract"):
        files = 2 if name.startswith("extract2") else 1
        seconds = ENTRIES[name][1] // files
        wavs = [torch.rand(1, seconds * 16000, generator=gen) - 0.5 for _ in range(files)]
        model.eval()

        bf16 = name.endswith("_bf16")

        def run():
            with torch.inference_mode():
                for wav in wavs:
                    feats = fb(wav)
                    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                        model(feats)
        return run
    wav = torch.rand(ROWS, SAMPLES, generator=gen) - 0.5
    if kind == "resnet":
        loss = AngleProto()
        labels = None
        shape = lambda e: e.view(SPEAKERS, ROWS // SPEAKERS, -1)
    else:
        loss = AAMSoftmax(192, 5994)
        labels = torch.randint(0, 5994, (ROWS,), generator=gen)
        shape = lambda e: e
    opt = torch.optim.Adam(list(model.parameters()) + list(loss.parameters()), lr=1e-3)
    model.train()

    bf16 = name.endswith("_bf16")

    def run():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            l, _ = loss(shape(model(fb(wav))), labels)
        l.float().backward()
        opt.step()
    return run


def clock(kind):
    return time.process_time if kind == "cpu" else time.perf_counter


def time_torch(run, budget, warmup, threads, clock_kind):
    """Median seconds per run: warm-up runs, then runs until the budget is spent (at least 3)."""
    for _ in range(warmup):
        run()
    now = clock(clock_kind)
    div = threads if clock_kind == "cpu" else 1
    times, t_start = [], time.perf_counter()
    while len(times) < 3 or time.perf_counter() - t_start < budget:
        t0 = now()
        run()
        times.append((now() - t0) / div)
    return statistics.median(times)


# ----------------------------------------------------------------------------- spk side

def time_spk(spk_bench, op, budget, threads, clock_kind):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "r.json")
        cmd = [spk_bench, "--filter", op, "--threads", str(threads), "--budget", str(budget), "--clock", clock_kind,
               "--json", path]
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        with open(path) as f:
            doc = json.load(f)
    rows = [r for r in doc["results"] if f"{r.get('op')} {r.get('variant')}" == op]
    if len(rows) != 1:
        raise RuntimeError(f"spk_bench gave {len(rows)} results for '{op}' (is it built from this tree?)")
    return rows[0]["time_us"] * 1e-6, doc.get("commit", "?")


# ----------------------------------------------------------------------------- main

def markdown(res):
    lines = [f"CPU: {res['cpu']}; threads {res['threads']}; clock {res['clock']}; rounds {res['rounds']}; "
             f"spk commit {res['spk_commit']}; torch {res['torch']}; {res['date']}", "",
             "| entry | unit | spk | PyTorch | spk/PyTorch | spk base | base/PyTorch |",
             "|---|---|---|---|---|---|---|"]
    for r in res["entries"]:
        base = (f"{r['base_rate']:.2f} | {r['base_ratio']:.2f}x" if "base_rate" in r else "- | -")
        lines.append(f"| {r['name']} | {r['unit']} | {r['spk_rate']:.2f} | {r['torch_rate']:.2f} | "
                     f"{r['ratio']:.2f}x | {base} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spk-bench", default="build/bench/spk_bench", help="path of spk_bench")
    ap.add_argument("--threads", type=int, default=2, help="threads of both (spk_bench --threads, "
                    "torch.set_num_threads); default 2")
    ap.add_argument("--entries", default=",".join(ENTRIES), help="comma-separated subset of: " + ", ".join(ENTRIES))
    ap.add_argument("--rounds", type=int, default=2, help="A B rounds per entry (default 2); medians over rounds")
    ap.add_argument("--budget", type=float, default=2.0, help="seconds of timed runs per side and round (default 2)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed PyTorch runs before timing (default 2)")
    ap.add_argument("--spk-bench-base", help="a second spk_bench timed in the same rounds (before/after)")
    ap.add_argument("--clock", choices=["cpu", "wall"], default="wall")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--markdown", help="write a markdown table here")
    ap.add_argument("--dry-run", action="store_true", help="print what would run, run nothing")
    args = ap.parse_args(argv)

    names = [n for n in args.entries.split(",") if n]
    unknown = [n for n in names if n not in ENTRIES]
    if unknown:
        ap.error(f"--entries: unknown {', '.join(unknown)} (known: {', '.join(ENTRIES)})")
    if args.threads < 1 or args.rounds < 1 or args.budget <= 0:
        ap.error("--threads and --rounds must be >= 1 and --budget > 0")
    if args.dry_run:
        for n in names:
            print(f"{n}: spk_bench --filter '{ENTRIES[n][0]}' --threads {args.threads} --clock {args.clock}  vs  "
                  f"PyTorch eager, {args.rounds} rounds")
        return 0
    if not load_torch(args.clock):
        print("compare_cpu.py: PyTorch and torchaudio are needed (Debian python3-torch python3-torchaudio, or "
              "pip install torch torchaudio)", file=sys.stderr)
        return 2
    for flag, path in (("--spk-bench", args.spk_bench), ("--spk-bench-base", args.spk_bench_base)):
        if path is not None and not os.access(path, os.X_OK):
            print(f"compare_cpu.py: {flag} {path} is not an executable (build the spk_bench target)",
                  file=sys.stderr)
            return 2
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    res = {"cpu": cpu_model(), "threads": args.threads, "clock": args.clock, "rounds": args.rounds,
           "torch": torch.__version__, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "load_before": os.getloadavg()[0],
           "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"), "entries": []}
    print(f"# {res['cpu']}, {args.threads} threads, clock {args.clock}, torch {torch.__version__}, "
          f"load average {res['load_before']:.2f}, OMP_WAIT_POLICY {res['omp_wait_policy']}")
    commit = "?"
    for n in names:
        op, per_run, unit = ENTRIES[n]
        run = torch_entry(n)
        spk_t, torch_t, base_t = [], [], []
        for _ in range(args.rounds):   # A B A B: both sides see the same machine load
            t, commit = time_spk(args.spk_bench, op, args.budget, args.threads, args.clock)
            spk_t.append(t)
            torch_t.append(time_torch(run, args.budget, args.warmup, args.threads, args.clock))
            if args.spk_bench_base and base_t is not None:
                try:   # a base built before the entry existed has none: that row's base columns stay empty
                    t, res["spk_base_commit"] = time_spk(args.spk_bench_base, op, args.budget, args.threads,
                                                         args.clock)
                    base_t.append(t)
                except (RuntimeError, subprocess.CalledProcessError):
                    base_t = None
        s, p = statistics.median(spk_t), statistics.median(torch_t)
        r = {"name": n, "spk_op": op, "unit": unit, "spk_s": s, "torch_s": p, "spk_rate": per_run / s,
             "torch_rate": per_run / p, "ratio": p / s, "spk_rounds_s": spk_t, "torch_rounds_s": torch_t}
        line = (f"{n:20s} spk {r['spk_rate']:8.2f} {unit}  PyTorch {r['torch_rate']:8.2f} {unit}  "
                f"spk/PyTorch {r['ratio']:.2f}x")
        if base_t:
            b = statistics.median(base_t)
            r.update({"base_s": b, "base_rate": per_run / b, "base_ratio": p / b, "base_rounds_s": base_t})
            line += f"  (base {r['base_rate']:8.2f}: {r['base_ratio']:.2f}x)"
        res["entries"].append(r)
        print(line, flush=True)
    res["spk_commit"] = commit
    res["load_after"] = os.getloadavg()[0]
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
