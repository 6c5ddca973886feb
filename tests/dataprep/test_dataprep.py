#!/usr/bin/env python3
"""ctest `dataprep`: scripts/dataprep.py on small synthetic trees (sine WAVs from Python's wave module, AAC made
with ffmpeg from them): every subcommand's outputs, each bad input's message and exit status, and spk_train
training one epoch from the generated list and the generated Kaldi dir (with --augment on the generated MUSAN
segments and RIR list). SPK_TRAIN_BINARY names spk_train; without it the training test is skipped."""
import hashlib
import math
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
import wave

HERE = os.path.dirname(os.path.abspath(__file__))
DATAPREP = os.path.join(HERE, "..", "..", "scripts", "dataprep.py")


def write_wav(path, n, rate=16000, f0=200, channels=1, level=0.2, seed=0):
    """A harmonic tone of integer f0 (speaker identity) with a seeded phase, or, when f0 == 0, full-scale white
    noise (never periodic, so a segment's content says where it was cut)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if f0 > 0:
        period = rate // math.gcd(f0, rate)   # the tone repeats exactly: compute one period, then tile it
        one = b"".join(struct.pack("<h", int(level * 32767 * sum(
            math.sin(2 * math.pi * f0 * h * i / rate + seed * 0.9 * h) / h for h in range(1, 4)) / 1.84)) * channels
            for i in range(period))
        frames = (one * (n // period + 1))[:n * 2 * channels]
    else:
        frames = random.Random(seed).randbytes(n * 2 * channels)
    with wave.open(path, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)


def header(path):
    with wave.open(path, "rb") as w:
        return w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()


def dataprep(*args):
    r = subprocess.run([sys.executable, DATAPREP] + [str(a) for a in args], capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def read_lines(path):
    with open(path) as f:
        return [line.split() for line in f if line.strip()]


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="spk_dataprep_")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def p(self, *parts):
        return os.path.join(self.tmp, *parts)

    def ok(self, *args):
        rc, out = dataprep(*args)
        self.assertEqual(rc, 0, out)
        return out

    def bad(self, *args, says=()):
        rc, out = dataprep(*args)
        self.assertEqual(rc, 1, out)
        self.assertIn("error:", out)
        for s in says:
            self.assertIn(str(s), out)
        self.assertNotIn("Traceback", out)
        return out


def make_vox_tree(root, speakers=4, videos=2, utts=2, rate=16000):
    """root/idNNNNN/vidK/0000U.wav; speaker k has its own fundamental."""
    rels = []
    for k in range(speakers):
        for v in range(videos):
            for u in range(utts):
                rel = "id%05d/vid%d/%05d.wav" % (10001 + k, v, u + 1)
                write_wav(os.path.join(root, rel), 6000 + 700 * (2 * v + u), rate, f0=110 + 70 * k, seed=2 * v + u)
                rels.append(rel)
    return sorted(rels)


class VoxCeleb(Base):
    def test_list_data_dir_and_trials(self):
        root = self.p("vox1", "wav")
        rels = make_vox_tree(root)
        trials = self.p("veri_test.txt")
        with open(trials, "w") as f:
            f.write("1 id10001/vid0/00001.wav id10001/vid1/00002.wav\n0 id10001/vid0/00001.wav id10002/vid0/00001.wav\n")
        out = self.ok("voxceleb", root, "--list", self.p("train_list.txt"), "--data_dir", self.p("data", "train"),
                      "--trials", trials)
        self.assertIn("4 speakers, 16 utterances", out)
        self.assertIn("2 trials, every file found", out)
        # trials on another tree (VoxCeleb1 test while training on VoxCeleb2 dev): --trials_root
        make_vox_tree(self.p("vox2"), speakers=1)
        self.bad("voxceleb", self.p("vox2"), "--trials", trials, says=[trials + ":2:", "'id10002/vid0/00001.wav'"])
        self.ok("voxceleb", self.p("vox2"), "--trials", trials, "--trials_root", root)
        # voxceleb_trainer's train_list.txt: `speaker path`, sorted by path, relative to the root
        lst = read_lines(self.p("train_list.txt"))
        self.assertEqual([l[1] for l in lst], rels)
        self.assertEqual([l[0] for l in lst], [r.split("/")[0] for r in rels])
        # Kaldi data dir: sorted, consistent, wespeaker's keys (the relative path), absolute paths in wav.scp
        scp = read_lines(self.p("data", "train", "wav.scp"))
        u2s = read_lines(self.p("data", "train", "utt2spk"))
        s2u = read_lines(self.p("data", "train", "spk2utt"))
        self.assertEqual([l[0] for l in scp], rels)
        self.assertEqual([l[0] for l in u2s], rels)
        for (utt, path), (utt2, spk) in zip(scp, u2s):
            self.assertEqual(os.path.realpath(path), os.path.realpath(os.path.join(root, utt)))
            self.assertEqual(spk, utt.split("/")[0])
        self.assertEqual([l[0] for l in s2u], ["id10001", "id10002", "id10003", "id10004"])
        self.assertEqual(sorted(u for l in s2u for u in l[1:]), rels)
        for l in s2u:
            self.assertTrue(all(u.startswith(l[0] + "/") for u in l[1:]))

    def test_merged_roots_give_absolute_paths(self):
        make_vox_tree(self.p("dev"), speakers=2)
        write_wav(self.p("test", "id20001", "v", "00001.wav"), 4000)
        self.ok("voxceleb", self.p("dev"), self.p("test"), "--list", self.p("l.txt"))
        lst = read_lines(self.p("l.txt"))
        self.assertEqual(len(lst), 9)
        self.assertEqual(lst[-1], ["id20001", self.p("test", "id20001", "v", "00001.wav")])

    def test_bad_trees(self):
        os.makedirs(self.p("empty", "id10001"))
        self.bad("voxceleb", self.p("empty"), "--list", self.p("l.txt"), says=["no speakers", self.p("empty")])
        self.assertFalse(os.path.exists(self.p("l.txt")))
        # m4a only: the message says to convert first
        os.makedirs(self.p("aac", "id1", "v"))
        open(self.p("aac", "id1", "v", "1.m4a"), "wb").close()
        self.bad("voxceleb", self.p("aac"), "--list", self.p("l.txt"), says=["no speakers", "dataprep.py convert"])
        # mixed sample rates: the odd file is named
        make_vox_tree(self.p("mixed"), speakers=2)
        odd = self.p("mixed", "id10002", "vid1", "00003.wav")
        write_wav(odd, 3000, rate=8000)
        self.bad("voxceleb", self.p("mixed"), "--data_dir", self.p("d"), says=[odd, "8000 Hz, while 8 of 9 files are 16000 Hz",
                                                                     "mixed sample rates"])
        self.assertFalse(os.path.exists(self.p("d")))
        make_vox_tree(self.p("all8k"), speakers=1, rate=8000)
        self.bad("voxceleb", self.p("all8k"), "--list", self.p("l.txt"),
                 says=[self.p("all8k") + ": every file is 8000 Hz, but --sample_rate is 16000"])
        self.ok("voxceleb", self.p("all8k"), "--list", self.p("l.txt"), "--sample_rate", 8000)
        # an unreadable wav
        os.remove(odd)
        with open(odd, "wb") as f:
            f.write(b"RIFF....garbage")
        self.bad("voxceleb", self.p("mixed"), "--list", self.p("l.txt"), says=[odd, "not a readable"])
        os.remove(odd)
        # duplicate utterance ids across merged roots
        make_vox_tree(self.p("other"), speakers=1, videos=1, utts=1)
        self.bad("voxceleb", self.p("mixed"), self.p("other"), "--list", self.p("l.txt"),
                 says=["duplicate utterance id id10001/vid0/00001.wav", self.p("mixed", "id10001", "vid0", "00001.wav"),
                       self.p("other", "id10001", "vid0", "00001.wav")])
        # trial lists: a missing file and a malformed line, each named with its line
        t = self.p("trials.txt")
        with open(t, "w") as f:
            f.write("1 id10001/vid0/00001.wav id10001/vid1/00001.wav\n0 id10001/vid0/00001.wav id19999/x/1.wav\n")
        self.bad("voxceleb", self.p("mixed"), "--trials", t, says=[t + ":2:", "'id19999/x/1.wav' not found"])
        with open(t, "w") as f:
            f.write("1 id10001/vid0/00001.wav id10001/vid1/00001.wav\n\ntarget id10001/vid0/00001.wav\n")
        self.bad("voxceleb", self.p("mixed"), "--trials", t, says=[t + ":3:", "expected `label path1 path2`"])
        with open(t, "w") as f:
            f.write("2 id10001/vid0/00001.wav id10001/vid1/00001.wav\n")
        self.bad("voxceleb", self.p("mixed"), "--trials", t, says=[t + ":1:", "label must be 0 or 1"])


class Convert(Base):
    @classmethod
    def setUpClass(cls):
        """VoxCeleb2's layout: aac/idNNNNN/video/utt.m4a, made once by ffmpeg from 22.05-kHz stereo WAVs."""
        assert shutil.which("ffmpeg"), "ffmpeg is not installed: scripts/setup.sh installs it"
        cls.aac = tempfile.mkdtemp(prefix="spk_dataprep_aac_")
        cls.rels = []
        for k in range(2):
            for u in range(2):
                wav = os.path.join(cls.aac, "src", "%d%d.wav" % (k, u))
                write_wav(wav, 11025 + 2000 * u, rate=22050, f0=150 + 80 * k, channels=2, seed=u)
                rel = os.path.join("id%05d" % (1 + k), "vid", "%05d.m4a" % (u + 1))
                os.makedirs(os.path.join(cls.aac, "aac", os.path.dirname(rel)), exist_ok=True)
                subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", wav, "-c:a", "aac",
                                os.path.join(cls.aac, "aac", rel)], check=True)
                cls.rels.append(rel)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.aac, True)

    def make_aac_tree(self):
        shutil.copytree(os.path.join(self.aac, "aac"), self.p("aac"))
        return [self.p("aac", r) for r in self.rels]

    def test_convert_resumable_and_checked(self):
        srcs = self.make_aac_tree()
        out = self.ok("convert", self.p("aac"), self.p("wav"), "-j", 2)
        self.assertIn("4 converted, 0 already complete, 0 failed", out)
        outs = [s.replace(self.p("aac"), self.p("wav")).replace(".m4a", ".wav") for s in srcs]
        for o, n in zip(outs, [11025, 13025, 11025, 13025]):
            rate, ch, width, frames = header(o)
            self.assertEqual((rate, ch, width), (16000, 1, 2))
            self.assertLess(abs(frames - n * 16000 / 22050), 1600, o)   # AAC adds at most a few frames of padding
        # the converted tree feeds `voxceleb` directly
        self.ok("voxceleb", self.p("wav"), "--list", self.p("l.txt"))
        self.assertEqual(len(read_lines(self.p("l.txt"))), 4)
        # resumable: complete outputs are kept untouched, a truncated one (and a missing one) redone,
        # a killed run's temp file removed
        mtime = os.stat(outs[0]).st_mtime_ns
        os.remove(outs[1])
        with open(outs[2], "r+b") as f:
            f.truncate(200)
        stale = os.path.join(os.path.dirname(outs[3]), ".99999.wav.part")
        open(stale, "wb").close()
        out = self.ok("convert", self.p("aac"), self.p("wav"), "-j", 2)
        self.assertIn("2 converted, 2 already complete, 0 failed", out)
        self.assertEqual(os.stat(outs[0]).st_mtime_ns, mtime)
        self.assertEqual(header(outs[2])[:3], (16000, 1, 2))
        self.assertFalse(os.path.exists(stale))

    def test_unreadable_m4a(self):
        self.make_aac_tree()
        bad = self.p("aac", "id00002", "vid", "00009.m4a")
        with open(bad, "wb") as f:
            f.write(b"\x00\x00\x00\x18ftypM4A not really AAC" * 10)
        out = self.bad("convert", self.p("aac"), self.p("wav"), "-j", 2, says=[bad, "ffmpeg could not convert it",
                                                                               "1 of 5 files failed"])
        self.assertIn("4 converted", out)   # the others are converted anyway
        self.assertEqual(sorted(os.listdir(self.p("wav", "id00002", "vid"))), ["00001.wav", "00002.wav"])

    def test_no_input(self):
        os.makedirs(self.p("nothing"))
        self.bad("convert", self.p("nothing"), self.p("wav"), says=[self.p("nothing"), "no .m4a files"])


def make_musan(root):
    """Lengths around voxceleb_trainer's rule: segments start at range(0, n - 80000, 48000)."""
    spec = {"music/fma/music-fma-0000.wav": 12 * 16000,        # starts 0, 3, 6 s
            "speech/librivox/speech-librivox-0000.wav": 8 * 16000 + 1,   # 0, 3 s
            "speech/librivox/speech-librivox-0001.wav": 8 * 16000,       # 0 only
            "noise/free-sound/noise-free-sound-0000.wav": 5 * 16000 + 1,  # 0 only
            "noise/free-sound/noise-free-sound-0001.wav": 5 * 16000}      # none (5 s or less)
    for rel, n in spec.items():
        write_wav(os.path.join(root, rel), n, f0=0, seed=n)
    return spec


def make_rirs(root):
    for room in ("smallroom", "mediumroom", "largeroom"):
        for r in (1, 2):
            n = 800
            path = os.path.join(root, room, "Room%03d" % r, "Room%03d-00001.wav" % r)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with wave.open(path, "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(16000)
                w.writeframes(b"".join(struct.pack("<h", int(20000 * math.exp(-i / (40.0 * r)))) for i in range(n)))


class MusanAndRir(Base):
    def test_musan_segments(self):
        spec = make_musan(self.p("musan"))
        with open(self.p("musan", "README"), "w") as f:
            f.write("not audio\n")
        out = self.ok("musan", self.p("musan"), self.p("musan_split"), "--list", self.p("musan_list.txt"))
        self.assertIn("5 files -> 7 segments", out)
        want = {"music/fma/music-fma-0000": ["00000.wav", "00003.wav", "00006.wav"],
                "speech/librivox/speech-librivox-0000": ["00000.wav", "00003.wav"],
                "speech/librivox/speech-librivox-0001": ["00000.wav"],
                "noise/free-sound/noise-free-sound-0000": ["00000.wav"]}
        for d, names in want.items():
            self.assertEqual(sorted(os.listdir(self.p("musan_split", d))), names)
            for name in names:
                seg = self.p("musan_split", d, name)
                self.assertEqual(header(seg), (16000, 1, 2, 80000))
                st = int(name[:5]) * 16000
                with wave.open(self.p("musan", d + ".wav")) as src, wave.open(seg) as s:
                    src.setpos(st)
                    self.assertEqual(src.readframes(80000), s.readframes(80000))
        self.assertFalse(os.path.exists(self.p("musan_split", "noise/free-sound/noise-free-sound-0001")))
        lst = read_lines(self.p("musan_list.txt"))
        self.assertEqual(len(lst), 7)
        self.assertEqual(sorted({c for c, _ in lst}), ["music", "noise", "speech"])
        for c, path in lst:
            self.assertTrue(path.startswith("musan_split/" + c + "/"))
            self.assertTrue(os.path.isfile(self.p(path)))
        # rerun: nothing to redo, same result
        self.assertIn("7 segments", self.ok("musan", self.p("musan"), self.p("musan_split")))

    def test_musan_bad(self):
        make_musan(self.p("musan"))
        odd = self.p("musan", "music", "fma", "music-fma-0001.wav")
        write_wav(odd, 100000, rate=8000)
        self.bad("musan", self.p("musan"), self.p("out"), says=[odd, "8000 Hz"])
        self.assertFalse(os.path.exists(self.p("out")))
        os.makedirs(self.p("empty", "music"))
        self.bad("musan", self.p("empty"), self.p("out"), says=[self.p("empty"), "no category/source/file.wav"])

    def test_rir_list(self):
        make_rirs(self.p("RIRS_NOISES", "simulated_rirs"))
        self.ok("rir", self.p("RIRS_NOISES", "simulated_rirs"), self.p("rir_list.txt"), "--rooms", "smallroom", "mediumroom")
        lst = [l[0] for l in read_lines(self.p("rir_list.txt"))]
        self.assertEqual(lst, ["RIRS_NOISES/simulated_rirs/mediumroom/Room001/Room001-00001.wav",
                               "RIRS_NOISES/simulated_rirs/mediumroom/Room002/Room002-00001.wav",
                               "RIRS_NOISES/simulated_rirs/smallroom/Room001/Room001-00001.wav",
                               "RIRS_NOISES/simulated_rirs/smallroom/Room002/Room002-00001.wav"])
        self.ok("rir", self.p("RIRS_NOISES", "simulated_rirs"), self.p("all.txt"))
        self.assertEqual(len(read_lines(self.p("all.txt"))), 6)
        os.makedirs(self.p("norir", "x"))
        self.bad("rir", self.p("norir"), self.p("l.txt"), says=[self.p("norir"), "no .wav files"])


class Md5(Base):
    def test_md5_pass_and_fail(self):
        data = {"vox1_dev_wav_partaa": b"a" * 5000, "vox1_dev_wav_partab": b"b" * 3000, "musan.tar.gz": b"m" * 10}
        for name, content in data.items():
            with open(self.p(name), "wb") as f:
                f.write(content)
        md5 = {n: hashlib.md5(c).hexdigest() for n, c in data.items()}
        # voxceleb_trainer's lists/fileparts.txt (`file md5`), augment.txt (`url md5`), and md5sum's `md5  file`
        with open(self.p("fileparts.txt"), "w") as f:
            f.write("vox1_dev_wav_partaa %s\nvox1_dev_wav_partab %s\n" % (md5["vox1_dev_wav_partaa"], md5["vox1_dev_wav_partab"]))
            f.write("http://www.openslr.org/resources/17/musan.tar.gz %s\n" % md5["musan.tar.gz"])
        with open(self.p("md5sum.txt"), "w") as f:
            f.write("".join("%s  %s\n" % (md5[n], n) for n in data))
        self.assertIn("3 ok, 0 failed", self.ok("md5", self.p("fileparts.txt")))
        self.assertIn("3 ok, 0 failed", self.ok("md5", self.p("md5sum.txt"), "-j", 2))
        with open(self.p("vox1_dev_wav_partab"), "r+b") as f:
            f.write(b"X")
        self.bad("md5", self.p("fileparts.txt"), says=[self.p("fileparts.txt") + ":2:", "vox1_dev_wav_partab",
                                                       "expected " + md5["vox1_dev_wav_partab"]])
        os.remove(self.p("vox1_dev_wav_partaa"))
        self.bad("md5", self.p("md5sum.txt"), says=[self.p("md5sum.txt") + ":1:", "not found"])
        out = self.bad("md5", self.p("md5sum.txt"), "--skip_missing", says=["1 ok, 1 failed, 1 skipped"])
        with open(self.p("junk.txt"), "w") as f:
            f.write("%s  a\nnot a checksum line\n" % md5["musan.tar.gz"])
        self.bad("md5", self.p("junk.txt"), says=[self.p("junk.txt") + ":2:", "expected an md5"])


@unittest.skipUnless(os.environ.get("SPK_TRAIN_BINARY"), "SPK_TRAIN_BINARY not set")
class TrainFromPreparedData(Base):
    def test_one_epoch_from_list_and_from_kaldi_dir(self):
        root = self.p("vox", "wav")
        make_vox_tree(root)
        make_musan(self.p("musan"))
        make_rirs(self.p("rirs"))
        self.ok("voxceleb", root, "--list", self.p("train_list.txt"), "--data_dir", self.p("data", "train"))
        self.ok("musan", self.p("musan"), self.p("musan_split"))
        self.ok("rir", self.p("rirs"), self.p("rir_list.txt"))
        tiny = ("--model ResNetSE34L --nOut 16 --trainfunc softmax --nClasses 0 --log_input --max_frames 20 "
                "--batch_size 4 --nDataLoaderThread 1 --test_list '' --lr 0.001 --max_epoch 1 --augment "
                "--musan_path {m} --rir_path {r} --train_path {t}").format(m=self.p("musan_split"),
                                                                          r=self.p("rir_list.txt"), t=root)
        logs = []
        for name, train in (("list", self.p("train_list.txt")), ("dir", self.p("data", "train"))):
            save = self.p("exp_" + name)
            r = subprocess.run("%s %s --train_list %s --save_path %s" % (os.environ["SPK_TRAIN_BINARY"], tiny, train, save),
                               shell=True, capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertTrue(os.path.isfile(os.path.join(save, "model", "last.safetensors")))
            with open(os.path.join(save, "train_log.csv")) as f:
                logs.append(f.read().splitlines())
            self.assertEqual(len(logs[-1]), 2, logs[-1])   # a header and one epoch
        # the list and the dir name the same files in the same order: the same run (loss, accuracy; speed aside)
        cols = logs[0][0].split(",")
        row = lambda r: {c: v for c, v in zip(cols, r.split(",")) if c not in ("samples_per_s", "seconds", "time")}
        self.assertIn("loss", row(logs[0][1]))
        self.assertEqual(row(logs[0][1]), row(logs[1][1]))


if __name__ == "__main__":
    unittest.main(verbosity=2)
