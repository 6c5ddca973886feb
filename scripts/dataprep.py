#!/usr/bin/env python3
"""Offline data preparation for spk, as voxceleb_trainer's dataprep.py (github.com/clovaai/voxceleb_trainer)
and as wespeaker/Kaldi users expect. Python 3 standard library only; ffmpeg for `convert`.

Subcommands (docs/dataprep.md has the details and where each one matches or differs from voxceleb_trainer):
  voxceleb ROOT [ROOT ...]   idXXXXX/video/utt.wav tree -> train list, Kaldi data dir, trial lists checked
  convert  SRC DST           every *.m4a below SRC -> DST/same/path.wav, 16 kHz mono 16-bit (ffmpeg, -j, resumable)
  musan    MUSAN OUT         MUSAN's category/source/file.wav -> OUT/category/source/file/NNNNN.wav, 5-s segments
  rir      RIR_DIR LIST      every RIR wav -> LIST, one path per line (spk_train --rir_path LIST)
  md5      LIST              files against an official checksum list

Every error names the file (and the line, for list files) and exits with status 1 before writing anything,
except `convert`, which converts what it can, then names every file that failed.
"""
import argparse
import collections
import concurrent.futures
import hashlib
import os
import re
import shutil
import subprocess
import sys
import wave

RATE = 16000


class PrepError(Exception):
    pass


def fail(*parts):
    raise PrepError("".join(str(p) for p in parts))


def wav_info(path):
    """(rate, channels, sample width, frames) from the header, after checking the data really holds the frames
    the header announces (a truncated file fails here). PrepError naming the file otherwise."""
    try:
        with wave.open(path, "rb") as w:
            info = (w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes())
            if info[3] > 0:
                w.setpos(info[3] - 1)
                if len(w.readframes(1)) != info[1] * info[2]:
                    fail(path, ": truncated: the header announces ", info[3], " frames")
            return info
    except (wave.Error, EOFError, OSError) as e:
        fail(path, ": not a readable PCM WAV file (", e, ")")


def write_atomic_text(path, lines):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".part"
    with open(tmp, "w", encoding="utf-8") as f:
        f.writelines(line + "\n" for line in lines)
    os.replace(tmp, path)


def read_list(path):
    """(line number, fields) of each non-blank line of a text list."""
    try:
        with open(path, encoding="utf-8") as f:
            return [(no, line.split()) for no, line in enumerate(f, 1) if line.strip()]
    except (OSError, UnicodeDecodeError) as e:
        fail(path, ": cannot read (", e, ")")


# ---------------------------------------------------------------------------------------------------------------
# voxceleb


def scan_tree(root):
    """Sorted relative paths of root/speaker/video/utt.wav (voxceleb_trainer's depth), and the .m4a count."""
    if not os.path.isdir(root):
        fail(root, ": not a directory")
    wavs, m4a = [], 0
    for spk in sorted(os.listdir(root)):
        spk_dir = os.path.join(root, spk)
        if not os.path.isdir(spk_dir):
            continue
        for video in sorted(os.listdir(spk_dir)):
            video_dir = os.path.join(spk_dir, video)
            if not os.path.isdir(video_dir):
                continue
            for utt in sorted(os.listdir(video_dir)):
                if utt.endswith(".wav"):
                    wavs.append(spk + "/" + video + "/" + utt)
                elif utt.endswith(".m4a"):
                    m4a += 1
    return wavs, m4a


def cmd_voxceleb(a):
    if not (a.list or a.data_dir or a.trials):
        fail("voxceleb: nothing to write: give --list, --data_dir and/or --trials")
    roots = [os.path.abspath(r) for r in a.roots]
    utts = {}   # utterance id (speaker/video/utt.wav, as wespeaker's wav.scp keys) -> absolute path
    for root in roots:
        rels, m4a = scan_tree(root)
        if not rels:
            hint = (" (it holds %d .m4a files: run `dataprep.py convert` first)" % m4a) if m4a else ""
            fail(root, ": no speakers: no speaker/video/utterance.wav files below it", hint)
        for rel in rels:
            path = os.path.join(root, rel)
            if rel in utts:
                fail("duplicate utterance id ", rel, ": ", utts[rel], " and ", path)
            utts[rel] = path
    ids = sorted(utts)
    infos = {utt: wav_info(utts[utt]) for utt in ids}
    rates = collections.Counter(info[0] for info in infos.values())
    common = rates.most_common(1)[0][0]
    if len(rates) > 1:
        odd = next(u for u in ids if infos[u][0] != common)
        fail(utts[odd], ": ", infos[odd][0], " Hz, while ", rates[common], " of ", len(ids), " files are ", common,
             " Hz (mixed sample rates: `dataprep.py convert` writes every file at 16000 Hz)")
    if common != a.sample_rate:
        fail(roots[0] if len(roots) == 1 else " and ".join(roots), ": every file is ", common,
             " Hz, but --sample_rate is ", a.sample_rate)
    for utt in ids:
        rate, channels, _, frames = infos[utt]
        if channels != 1:
            fail(utts[utt], ": ", channels, " channels; spk trains on mono files (`dataprep.py convert` writes them)")
        if frames == 0:
            fail(utts[utt], ": no audio (0 frames)")
    speakers = sorted({u.split("/")[0] for u in ids})
    trial_roots = [os.path.abspath(r) for r in (a.trials_root or roots)]
    checked = [(trials, check_trials(trials, trial_roots)) for trials in a.trials or []]   # before any writing

    if a.list:
        # voxceleb_trainer's train_list.txt: `speaker path`, sorted by path, paths relative to --train_path (the
        # root); with several roots merged, absolute paths (voxceleb_trainer's os.path.join keeps them too).
        one = len(roots) == 1
        write_atomic_text(a.list, ["%s %s" % (u.split("/")[0], u if one else utts[u]) for u in ids])
    if a.data_dir:
        spk2utt = {}
        for u in ids:
            spk2utt.setdefault(u.split("/")[0], []).append(u)
        write_atomic_text(os.path.join(a.data_dir, "wav.scp"), ["%s %s" % (u, utts[u]) for u in ids])
        write_atomic_text(os.path.join(a.data_dir, "utt2spk"), ["%s %s" % (u, u.split("/")[0]) for u in ids])
        write_atomic_text(os.path.join(a.data_dir, "spk2utt"), [s + " " + " ".join(spk2utt[s]) for s in speakers])
    for trials, n in checked:
        print("dataprep voxceleb: %s: %d trials, every file found" % (trials, n))
    print("dataprep voxceleb: %d speakers, %d utterances%s%s" %
          (len(speakers), len(ids), (", list " + a.list) if a.list else "",
           (", data dir " + a.data_dir) if a.data_dir else ""))


def check_trials(path, roots):
    lines = read_list(path)
    if not lines:
        fail(path, ": empty trial list")
    for no, f in lines:
        if len(f) != 3:
            fail(path, ":", no, ": expected `label path1 path2`, got ", len(f), " columns")
        if f[0] not in ("0", "1"):
            fail(path, ":", no, ": label must be 0 or 1, got '", f[0], "'")
        for p in f[1:]:
            if not any(os.path.isfile(os.path.join(r, p)) for r in roots):
                fail(path, ":", no, ": '", p, "' not found under ", " or ".join(roots))
    return len(lines)


# ---------------------------------------------------------------------------------------------------------------
# convert


def wav_complete(path):
    """True when path is a finished conversion: 16 kHz, mono, 16-bit, at least one frame, not truncated."""
    try:
        rate, channels, width, frames = wav_info(path)
    except PrepError:
        return False
    return rate == RATE and channels == 1 and width == 2 and frames > 0


def convert_one(src, dst):
    """'skipped', 'converted', or an error message naming src."""
    if os.path.exists(dst) and wav_complete(dst):
        return "skipped"
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    tmp = os.path.join(os.path.dirname(dst), "." + os.path.basename(dst) + ".part")
    # voxceleb_trainer's command, plus -f wav (the temp name has no .wav extension) and -nostdin (parallel runs).
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", src, "-ac", "1", "-vn", "-acodec", "pcm_s16le",
           "-ar", str(RATE), "-f", "wav", tmp]
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if r.returncode != 0:
        if os.path.exists(tmp):
            os.remove(tmp)
        last = r.stderr.decode(errors="replace").strip().splitlines()
        return "%s: ffmpeg could not convert it (%s)" % (src, last[-1] if last else "exit %d" % r.returncode)
    try:
        rate, channels, width, frames = wav_info(tmp)
        if (rate, channels, width) != (RATE, 1, 2) or frames == 0:
            fail(src, ": ffmpeg wrote ", rate, " Hz, ", channels, " channels, ", 8 * width, " bits, ", frames,
                 " frames; expected 16000 Hz mono 16-bit with audio")
    except PrepError as e:
        os.remove(tmp)
        return str(e)
    os.replace(tmp, dst)   # atomic: a killed run never leaves a half-written dst
    return "converted"


def guarded(fn, src, dst):
    try:
        return fn(src, dst)
    except OSError as e:   # e.g. a full disk or an unwritable DST: named, and the other files go on
        return "%s: %s" % (src, e)


def cmd_convert(a):
    if shutil.which("ffmpeg") is None:
        fail("convert: ffmpeg not found on PATH (Debian: apt-get install ffmpeg; scripts/setup.sh installs it)")
    src_root, dst_root = os.path.abspath(a.src), os.path.abspath(a.dst)
    if not os.path.isdir(src_root):
        fail(a.src, ": not a directory")
    exts = tuple("." + e.lstrip(".") for e in a.ext)
    jobs = []
    for d, _, files in os.walk(src_root):
        for f in files:
            if f.endswith(exts):
                rel = os.path.relpath(os.path.join(d, f), src_root)
                jobs.append((os.path.join(src_root, rel), os.path.join(dst_root, os.path.splitext(rel)[0] + ".wav")))
    if not jobs:
        fail(a.src, ": no ", "/".join(exts), " files below it")
    jobs.sort()
    outs = {}
    for src, dst in jobs:
        if dst in outs:
            fail("duplicate utterance id: ", outs[dst], " and ", src, " would both write ", dst)
        outs[dst] = src
    for d, _, files in os.walk(dst_root):   # temp files of a killed run: never complete, so never kept
        for f in files:
            if f.startswith(".") and f.endswith(".wav.part"):
                os.remove(os.path.join(d, f))
    counts, errors = {"skipped": 0, "converted": 0}, []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, a.jobs)) as pool:
        for result in pool.map(lambda j: guarded(convert_one, *j), jobs):
            if result in counts:
                counts[result] += 1
            else:
                errors.append(result)
                print("dataprep convert: " + result, file=sys.stderr)
    print("dataprep convert: %d converted, %d already complete, %d failed, into %s" %
          (counts["converted"], counts["skipped"], len(errors), dst_root))
    if errors:
        fail("convert: ", len(errors), " of ", len(jobs), " files failed (listed above); rerun to retry them")


# ---------------------------------------------------------------------------------------------------------------
# musan


def wav_complete_segment(path, frames):
    try:
        return wav_info(path)[3] == frames
    except PrepError:
        return False


def cmd_musan(a):
    src_root, out_root = os.path.abspath(a.musan), os.path.abspath(a.out)
    if not os.path.isdir(src_root):
        fail(a.musan, ": not a directory")
    # voxceleb_trainer: glob('musan/*/*/*.wav'), i.e. category/source/file.wav
    files = []
    for cat in sorted(os.listdir(src_root)):
        for source in sorted(os.listdir(os.path.join(src_root, cat))) if os.path.isdir(os.path.join(src_root, cat)) else []:
            d = os.path.join(src_root, cat, source)
            if os.path.isdir(d):
                files += [os.path.join(cat, source, f) for f in sorted(os.listdir(d)) if f.endswith(".wav")]
    if not files:
        fail(a.musan, ": no category/source/file.wav files below it (MUSAN's layout: music/fma/music-fma-0000.wav)")
    infos = {}
    for rel in files:
        info = wav_info(os.path.join(src_root, rel))
        if info[0] != a.sample_rate:
            fail(os.path.join(src_root, rel), ": ", info[0], " Hz, but --sample_rate is ", a.sample_rate,
                 " (mixed sample rates)")
        infos[rel] = info
    audlen, audstr = 5 * a.sample_rate, 3 * a.sample_rate   # voxceleb_trainer: 16000*5 and 16000*3 samples
    segments, short, listed = 0, 0, []
    for rel in files:
        rate, channels, width, frames = infos[rel]
        writedir = os.path.join(out_root, os.path.splitext(rel)[0])
        starts = range(0, frames - audlen, audstr)   # voxceleb_trainer's exact rule: no segment for files <= 5 s
        if not starts:
            short += 1
            continue
        os.makedirs(writedir, exist_ok=True)
        with wave.open(os.path.join(src_root, rel), "rb") as w:
            for st in starts:
                name = os.path.join(writedir, "%05.0f.wav" % (st / rate))
                listed.append((rel.split(os.sep)[0], os.path.relpath(name, out_root)))
                segments += 1
                if os.path.exists(name) and wav_complete_segment(name, audlen):
                    continue   # resumable: this segment was written by an earlier run
                w.setpos(st)
                data = w.readframes(audlen)
                tmp = name + ".part"
                with wave.open(tmp, "wb") as o:
                    o.setnchannels(channels)
                    o.setsampwidth(width)
                    o.setframerate(rate)
                    o.writeframes(data)
                os.replace(tmp, name)
    if a.list:
        base = os.path.dirname(os.path.abspath(a.list))
        write_atomic_text(a.list, ["%s %s" % (c, os.path.relpath(os.path.join(out_root, p), base)) for c, p in listed])
    print("dataprep musan: %d files -> %d segments of 5 s in %s (%d files of 5 s or less give none, as in "
          "voxceleb_trainer)" % (len(files), segments, out_root, short))


# ---------------------------------------------------------------------------------------------------------------
# rir


def cmd_rir(a):
    root = os.path.abspath(a.rir_dir)
    if not os.path.isdir(root):
        fail(a.rir_dir, ": not a directory")
    paths = []
    for d, dirs, files in os.walk(root):
        dirs.sort()
        rel_dir = os.path.relpath(d, root)
        top = rel_dir.split(os.sep)[0]
        if a.rooms and top not in a.rooms:
            continue
        paths += [os.path.join(d, f) for f in files if f.endswith(".wav")]
    paths.sort()
    if not paths:
        fail(a.rir_dir, ": no .wav files below it", (" in " + ", ".join(a.rooms)) if a.rooms else "")
    for p in paths:
        if wav_info(p)[3] == 0:
            fail(p, ": empty RIR (0 frames)")
    base = os.path.dirname(os.path.abspath(a.list))
    write_atomic_text(a.list, [os.path.relpath(p, base) for p in paths])
    print("dataprep rir: %d RIRs listed in %s" % (len(paths), a.list))


# ---------------------------------------------------------------------------------------------------------------
# md5

MD5 = re.compile(r"^[0-9a-fA-F]{32}$")


def md5_of(path):
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def cmd_md5(a):
    """Lines `md5 file` (md5sum), `file md5` (voxceleb_trainer's lists/fileparts.txt, augment.txt with URLs), or
    `parts file md5` (lists/files.txt): the md5 is the 32-hex-digit column, the file the last other column."""
    root = os.path.abspath(a.root or os.path.dirname(os.path.abspath(a.list)))
    entries = []
    for no, f in read_list(a.list):
        sums = [i for i, x in enumerate(f) if MD5.match(x)]
        if len(sums) != 1 or len(f) < 2:
            fail(a.list, ":", no, ": expected an md5 (32 hex digits) and a file name, got '", " ".join(f), "'")
        name = [x for i, x in enumerate(f) if i != sums[0]][-1].lstrip("*")
        name = name.rsplit("/", 1)[-1] if "://" in name else name   # a URL: voxceleb_trainer saves its basename
        entries.append((no, os.path.join(root, name), f[sums[0]].lower()))
    if not entries:
        fail(a.list, ": no checksums in it")
    missing = [(no, p) for no, p, _ in entries if not os.path.isfile(p)]
    if missing and not a.skip_missing:
        no, p = missing[0]
        fail(a.list, ":", no, ": ", p, " not found (", len(missing), " missing; --skip_missing checks only those present)")
    todo = [e for e in entries if os.path.isfile(e[1])]
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, a.jobs)) as pool:
        got = list(pool.map(lambda e: md5_of(e[1]), todo))
    bad = 0
    for (no, p, want), have in zip(todo, got):
        if have == want:
            print("Checksum successful %s." % p)
        else:
            bad += 1
            print("dataprep md5: %s:%d: %s: md5 %s, expected %s" % (a.list, no, p, have, want), file=sys.stderr)
    print("dataprep md5: %d ok, %d failed, %d skipped (missing)" % (len(todo) - bad, bad, len(entries) - len(todo)))
    if bad:
        fail("md5: ", bad, " of ", len(todo), " files failed their checksum (listed above)")


# ---------------------------------------------------------------------------------------------------------------


def main(argv=None):
    p = argparse.ArgumentParser(prog="dataprep.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    v = sub.add_parser("voxceleb", help="tree -> train list, Kaldi data dir; trial lists checked")
    v.add_argument("roots", nargs="+", help="speaker/video/utt.wav tree(s); several are merged (VoxCeleb1 dev+test)")
    v.add_argument("--list", help="write the voxceleb_trainer train list here (`speaker path`)")
    v.add_argument("--data_dir", help="write a Kaldi data dir here (wav.scp, utt2spk, spk2utt)")
    v.add_argument("--trials", action="append", help="check an official trial list (`label path1 path2`); repeatable")
    v.add_argument("--trials_root", action="append", help="where the trial paths are (default: the roots)")
    v.add_argument("--sample_rate", type=int, default=RATE, help="every file's required rate (default 16000)")
    v.set_defaults(run=cmd_voxceleb)

    c = sub.add_parser("convert", help="AAC/M4A -> 16-kHz mono 16-bit WAV with ffmpeg")
    c.add_argument("src", help="folder scanned recursively for --ext files (e.g. voxceleb2/dev/aac)")
    c.add_argument("dst", help="output folder: the same relative paths, .wav (e.g. voxceleb2/dev/wav)")
    c.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1, help="parallel ffmpeg runs")
    c.add_argument("--ext", nargs="+", default=["m4a"], help="input extensions (default m4a)")
    c.set_defaults(run=cmd_convert)

    m = sub.add_parser("musan", help="MUSAN -> voxceleb_trainer's 5-s segments (musan_split)")
    m.add_argument("musan", help="MUSAN's root (music/, speech/, noise/)")
    m.add_argument("out", help="output root (voxceleb_trainer's musan_split); give it to --musan_path")
    m.add_argument("--list", help="also write a `category path` list of the segments (usable as --musan_path)")
    m.add_argument("--sample_rate", type=int, default=RATE, help="every file's required rate (default 16000)")
    m.set_defaults(run=cmd_musan)

    r = sub.add_parser("rir", help="list an RIR folder for --rir_path")
    r.add_argument("rir_dir", help="e.g. RIRS_NOISES/simulated_rirs")
    r.add_argument("list", help="output list, one path per line, relative to the list's folder")
    r.add_argument("--rooms", nargs="+", help="only these top-level folders (voxceleb_trainer: smallroom mediumroom)")
    r.set_defaults(run=cmd_rir)

    h = sub.add_parser("md5", help="check files against a checksum list")
    h.add_argument("list", help="md5sum-style or voxceleb_trainer-style (lists/*.txt) checksum list")
    h.add_argument("--root", help="where the files are (default: the list's folder)")
    h.add_argument("--skip_missing", action="store_true", help="check only the files that exist")
    h.add_argument("-j", "--jobs", type=int, default=1, help="files hashed in parallel")
    h.set_defaults(run=cmd_md5)

    a = p.parse_args(argv)
    try:
        a.run(a)
    except PrepError as e:
        print("dataprep %s: error: %s" % (a.cmd, e), file=sys.stderr)
        return 1
    except OSError as e:   # unreadable folders, full disks: the message names the file
        print("dataprep %s: error: %s" % (a.cmd, e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
