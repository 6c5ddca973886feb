#!/usr/bin/env python3
"""Plan the espeak-ng demo corpus: speakers, sessions, sentences, sox effects, lists.

Called by scripts/make_demo_corpus.sh; Python 3 standard library only. It does no audio work:
it writes one tab-separated job file per speaker under OUT/.plan/jobs/ (consumed by
scripts/demo/synth_speaker.sh, in parallel) and the final lists as OUT/.plan/train_list.txt and
OUT/.plan/test_list.txt (moved into place once all audio exists). Everything is drawn from one
seeded random.Random, so the same flags give the same corpus byte for byte.

Why the three levels of randomness:
- speaker (fixed for all its utterances): espeak-ng language voice + variant, base pitch and
  speed, a "vocal tract length" factor (sox speed, which shifts formants), and a fixed channel
  colouring (high/low-pass + two EQ bands + gain). This is the identity to be learnt.
- session (VoxCeleb's "video"): another two EQ bands, a low-pass (3..8 kHz), reverb in half the
  sessions, noise colour and SNR (25..40 dB), level, and a small pitch/speed offset. This is
  nuisance: without it the per-speaker colouring alone would be a constant that separates
  speakers trivially.
- utterance: a fresh sentence (never repeated anywhere in the corpus), small pitch/speed jitter.

Job line fields (tab-separated, in order):
  relpath voice pitch wpm sox_effects speech_vol noise_type noise_vol noise_offset text
"""

import argparse
import os
import random
import re
import subprocess
import sys

# Languages written in Latin script, so espeak-ng reads the (English-word) sentences with its own
# letter-to-sound rules rather than switching to English; intersected with what is installed.
LATIN_LANGS = """af an az bs ca cs cy da de en-029 en-gb en-gb-scotland en-gb-x-gbclan en-gb-x-gbcwmd
en-gb-x-rp en-us en-us-nyc eo es es-419 et eu fi fr-be fr-ch fr-fr ga gd haw hr ht hu ia id io is it
kl la lb lfn lt lv mi ms mt nb nl om pap pl pt pt-br qu ro sk sl sq sv sw tn tr uz""".split()

WORDS = """able about above across after again against air almost alone along already also always
among animal answer apple area around arrive autumn baby back bad ball bank basket beach bear
beautiful because become bed before begin behind believe bell below best better between bird black
blue boat body bone book bottle bottom box boy branch bread break bridge bright bring brother brown
build burn busy butter buy cake call calm camp candle car card care carry castle cat catch cause
chair change cheap cheese child choose circle city class clean clear climb clock close cloud coast
coat cold colour come common cook cool copper corner count country cover cow cross crowd cup
dance dark daughter day deep desk dinner doctor dog door down dream dress drink drive dry during
early earth east easy eat edge egg empty engine enough evening every eye face fall family far farm
fast father feather field find finger fire fish flat floor flower fly follow food foot forest
forget fresh friend front fruit full game garden gate gentle gift girl glass gold good grass great
green ground grow hair half hand happy hard hat heavy help high hill history hold home honey horse
hot house hundred hungry ice idea island jacket jump keep kettle key kind king kitchen knee knife
lake lamp land large late laugh lazy leaf learn leave left lemon letter light line lion listen
little long look loud low lucky machine market metal middle milk minute mirror money moon morning
mother mountain mouse move music name narrow near needle nest never new night noise north nothing
number ocean office old open orange paper party path pencil people pepper piano picture pillow
place plant plate pocket poor potato pretty quick quiet rabbit rain read ready red river road rock
roof room rope round run salt sand school sea season second seed shadow sheep shell ship shirt
shoe short silver simple sing sister sleep slow small smile snow soft song soon south speak spoon
spring square stair star station stone storm story street strong summer sun sweet table tail tall
teacher thin think thunder ticket tiger time today tomorrow tongue tooth towel tower town train
tree true turn under valley village voice wait walk wall warm watch water wave weather week west
wet wheel white wide wind window winter wolf wood word work world yellow young""".split()

# RMS (dBFS) of sox's unit-amplitude noise generators at 16 kHz (measured with `sox -n -n synth 10
# TYPE stat`), so noise_vol gives the intended SNR against speech normalised to -3 dBFS peak
# (about -20 dBFS RMS for espeak-ng speech).
NOISE_RMS_DB = {"whitenoise": -4.8, "pinknoise": -13.1, "brownnoise": -4.9}
SPEECH_RMS_DB = -20.0
SNR_DB = (25.0, 40.0)
# Hardness knobs, tuned so that the untrained mean-log-mel baseline sits near 27 % EER while an
# LDA trained on the train speakers gets ~5 % (docs/demo_corpus.md). SNR_DB above is one too.
SPEAKER_EQ_DB = 6.0   # per-speaker colouring: two bands of +-this many dB
SESSION_EQ_DB = 7.0   # per-session channel: two more bands of +-this many dB
REVERB_PROB = 0.5     # share of sessions recorded "in a room" (sox reverb)

SESSION_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def espeak_voices(espeak):
    """Language codes and variant names as listed by `espeak-ng --voices[=variant]`."""
    def table(arg):
        out = subprocess.run([espeak, arg], check=True, capture_output=True, text=True).stdout
        rows = []
        for line in out.splitlines()[1:]:
            # Columns are separated by 2+ spaces; names such as "Mr serious" contain one.
            cols = re.split(r"\s{2,}", line.strip())
            if len(cols) >= 5:
                rows.append(cols)
        return rows
    langs = sorted({c[1] for c in table("--voices")})
    variants = sorted({c[4][3:] for c in table("--voices=variant")
                       if c[4].startswith("!v/") and " " not in c[4]})
    return langs, variants


def make_sentence(rng, n_words, used):
    for _ in range(1000):
        words = [rng.choice(WORDS) for _ in range(n_words)]
        s = " ".join(words).capitalize() + "."
        if s not in used:
            used.add(s)
            return s
    raise SystemExit("plan_corpus: could not draw a new unique sentence (word list too small)")


def eq_band(rng, max_db):
    """One peaking EQ band, log-uniform centre 150 Hz..6 kHz, Q 0.7..2."""
    f = 150.0 * (40.0 ** rng.random())
    return "equalizer %d %.2fq %+.1f" % (f, rng.uniform(0.7, 2.0), rng.uniform(-max_db, max_db))


def draw_speaker(rng, langs, variants):
    return {
        "lang": rng.choice(langs),
        "variant": rng.choice(variants),
        "pitch": rng.randint(15, 85),        # espeak-ng -p, 0..99
        "wpm": rng.randint(135, 205),        # espeak-ng -s, words per minute
        "vtl": rng.uniform(0.90, 1.10),      # sox speed factor: shifts pitch and formants together
        "colour": " ".join([
            "highpass %d" % rng.randint(60, 300),
            "lowpass %d" % rng.randint(3500, 7800),
            eq_band(rng, SPEAKER_EQ_DB),
            eq_band(rng, SPEAKER_EQ_DB),
        ]),
        "gain": rng.uniform(0.45, 1.0),
    }


def draw_session(rng):
    return {
        "name": "".join(rng.choice(SESSION_ID_CHARS) for _ in range(11)),
        "eq": " ".join([eq_band(rng, SESSION_EQ_DB), eq_band(rng, SESSION_EQ_DB),
                        "lowpass %d" % rng.randint(3000, 8000)]
                       + (["reverb %d 50 %d" % (rng.randint(10, 70), rng.randint(20, 100))]
                          if rng.random() < REVERB_PROB else [])),
        "noise": rng.choice(["whitenoise", "pinknoise", "brownnoise"]),
        "snr_db": rng.uniform(SNR_DB[0], SNR_DB[1]),
        "gain": rng.uniform(0.6, 1.0),
        "dpitch": rng.randint(-4, 4),
        "dwpm": rng.uniform(-0.06, 0.06),
    }


def plan(args):
    rng = random.Random(args.seed)
    langs, variants = espeak_voices(args.espeak)
    usable = [l for l in langs if l in LATIN_LANGS] or langs
    if not usable or not variants:
        raise SystemExit("plan_corpus: espeak-ng lists no voices or no variants")
    n_spk = args.train_speakers + args.test_speakers
    space = len(usable) * len(variants) * 71 * 71
    if n_spk > space // 4:
        raise SystemExit("plan_corpus: %d speakers requested but only %d voice/variant/pitch/"
                         "speed combinations exist" % (n_spk, space))

    speakers, seen = [], set()
    while len(speakers) < n_spk:
        s = draw_speaker(rng, usable, variants)
        key = (s["lang"], s["variant"], s["pitch"], s["wpm"])
        if key not in seen:
            seen.add(key)
            speakers.append(s)
    # Train and test speakers are disjoint by construction: distinct id ranges, distinct draws.
    for i, s in enumerate(speakers):
        is_train = i < args.train_speakers
        s["id"] = "id%05d" % (i if is_train else 10000 + i - args.train_speakers)
        s["train"] = is_train

    jobs_dir = os.path.join(args.plan_dir, "jobs")
    os.makedirs(jobs_dir, exist_ok=True)
    used_sentences = set()
    train_lines, test_utts = [], []  # test_utts: (speaker id, session index, relpath)
    for s in speakers:
        sessions = [draw_session(rng) for _ in range(args.sessions)]
        lines = []
        for u in range(args.utts):
            k = u % args.sessions            # round-robin: sessions get equal shares
            ses = sessions[k]
            rel = "%s/%s/%05d.wav" % (s["id"], ses["name"], u // args.sessions + 1)
            pitch = min(99, max(0, s["pitch"] + ses["dpitch"] + rng.randint(-3, 3)))
            wpm = int(round(s["wpm"] * (1.0 + ses["dwpm"] + rng.uniform(-0.04, 0.04))))
            # Words for a 2..4 s utterance at this rate (espeak-ng runs a little slower than wpm).
            n_words = max(3, int(round(rng.uniform(2.0, 4.0) * wpm / 60.0 * 0.9 * s["vtl"])))
            text = make_sentence(rng, n_words, used_sentences)
            effects = " ".join([
                "vol 0.5",                                  # headroom before the EQ boosts
                "speed %.4f" % s["vtl"],
                s["colour"],
                ses["eq"],
                "rate -h 16000",
                "gain -n -3",
            ])
            speech_vol = s["gain"] * ses["gain"]
            noise_db = SPEECH_RMS_DB - ses["snr_db"] - NOISE_RMS_DB[ses["noise"]]
            noise_vol = speech_vol * 10.0 ** (noise_db / 20.0)
            noise_offset = rng.randint(0, 16000 * 2)
            voice = "%s+%s" % (s["lang"], s["variant"])
            lines.append("\t".join([rel, voice, str(pitch), str(wpm), effects,
                                    "%.4f" % speech_vol, ses["noise"], "%.6f" % noise_vol,
                                    str(noise_offset), text]))
            if s["train"]:
                train_lines.append("%s %s" % (s["id"], rel))
            else:
                test_utts.append((s["id"], k, rel))
        with open(os.path.join(jobs_dir, s["id"] + ".tsv"), "w") as f:
            f.write("\n".join(lines) + "\n")

    with open(os.path.join(args.plan_dir, "train_list.txt"), "w") as f:
        f.write("\n".join(train_lines) + "\n")
    trials = make_trials(rng, test_utts)
    with open(os.path.join(args.plan_dir, "test_list.txt"), "w") as f:
        f.write("".join("%d %s %s\n" % t for t in trials))
    with open(os.path.join(args.plan_dir, "speakers.tsv"), "w") as f:
        f.write("id\tsplit\tvoice\tpitch\twpm\tvtl\tcolour\tgain\n")
        for s in speakers:
            f.write("%s\t%s\t%s+%s\t%d\t%d\t%.3f\t%s\t%.3f\n" % (
                s["id"], "train" if s["train"] else "test", s["lang"], s["variant"],
                s["pitch"], s["wpm"], s["vtl"], s["colour"], s["gain"]))
    print("plan: %d train speakers (%d utts), %d test speakers (%d utts), %d trials, "
          "%d languages x %d variants available" % (
              args.train_speakers, len(train_lines), args.test_speakers, len(test_utts),
              len(trials), len(usable), len(variants)))


def make_trials(rng, test_utts):
    """Balanced trials: every cross-session same-speaker pair (all same-speaker pairs when a
    speaker has a single session) as targets, the same number of distinct random
    different-speaker pairs as non-targets, shuffled."""
    by_spk = {}
    for idx, (spk, _, _) in enumerate(test_utts):
        by_spk.setdefault(spk, []).append(idx)
    targets = []
    for spk in sorted(by_spk):
        idxs = by_spk[spk]
        single = len({test_utts[i][1] for i in idxs}) == 1
        for x in range(len(idxs)):
            for y in range(x + 1, len(idxs)):
                a, b = test_utts[idxs[x]], test_utts[idxs[y]]
                if single or a[1] != b[1]:
                    targets.append((1, a[2], b[2]))
    n = len(test_utts)
    n_same = sum(len(v) * (len(v) - 1) // 2 for v in by_spk.values())
    if n * (n - 1) // 2 - n_same < len(targets):
        raise SystemExit("plan_corpus: too few test speakers for balanced trials")
    nontargets, seen = [], set()
    while len(nontargets) < len(targets):
        i, j = sorted(rng.sample(range(n), 2))
        if test_utts[i][0] != test_utts[j][0] and (i, j) not in seen:
            seen.add((i, j))
            a, b = test_utts[i], test_utts[j]
            nontargets.append((0, a[2], b[2]) if rng.random() < 0.5 else (0, b[2], a[2]))
    trials = targets + nontargets
    rng.shuffle(trials)
    return trials


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--plan-dir", required=True)
    p.add_argument("--train-speakers", type=int, required=True)
    p.add_argument("--test-speakers", type=int, required=True)
    p.add_argument("--utts", type=int, required=True)
    p.add_argument("--sessions", type=int, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--espeak", default="espeak-ng")
    args = p.parse_args()
    if args.train_speakers < 2 or args.test_speakers < 2 or args.utts < 2:
        raise SystemExit("plan_corpus: need >= 2 train speakers, >= 2 test speakers, >= 2 utts")
    if not 1 <= args.sessions <= args.utts:
        raise SystemExit("plan_corpus: sessions must be in 1..utts")
    if args.train_speakers > 10000 or args.test_speakers > 10000:
        raise SystemExit("plan_corpus: at most 10000 train and 10000 test speakers")
    plan(args)


if __name__ == "__main__":
    sys.exit(main())
