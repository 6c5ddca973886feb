#!/usr/bin/env python3
"""PyTorch baselines for spk's training-step benchmarks (optional; no test needs it, PyTorch only).

Runs the same models, losses and batch shapes as spk's benches, in PyTorch, on synthetic inputs that are already
on the device (no data loading, no front end: the features are random log-mel-like tensors), and prints one line
per (workload, mode, precision) with samples/s; --json PATH writes every result with the environment.

Workloads (sizes as voxceleb_trainer / TaoRuijie's ECAPA-TDNN train them; a 200-frame crop of 32,240 samples
gives 202 STFT frames, which is what the models see):
  resnetse34l_angleproto  ResNetSE34L (voxceleb_trainer models/ResNetSE34L.py: 40 mels, SAP, nOut 512) +
                          angleproto, 200 speakers x 2 utterances x 202 frames; full step with Adam
  ecapa_aam               ECAPA-TDNN C=512 (TaoRuijie model.py, 80 mels, nOut 192) + AAM-softmax (m 0.2, s 30)
                          over 5,994 classes, batch 256 x 202 frames; full step with Adam
  aam_loss                the AAM-softmax loss alone (voxceleb_trainer loss/aamsoftmax.py), forward + backward,
                          B 256, C 5,994, D 512: the PyTorch side of spk_bench's "losses" suite
Modes: eager, compile (torch.compile, default options). Precisions: fp32 (TF32 off), tf32 (TF32 matmul and
cuDNN), bf16 (torch.autocast bfloat16 around forward + loss, TF32 on for what stays fp32).

  python3 bench/torch/compare_train_step.py --json results.json              # everything, on the GPU
  python3 bench/torch/compare_train_step.py --device cpu --steps 2 --scale 0.02 --modes eager   # smoke check
"""
import argparse
import json
import math
import platform
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:  # the module still compiles without PyTorch (python3 -m py_compile)
    torch = None
    nn = None
    F = None


# ----------------------------------------------------------------------------- models

def build_models():
    """Model and loss classes, defined once torch is importable."""

    class SELayer(nn.Module):
        def __init__(self, channel, reduction=8):
            super().__init__()
            self.avg_pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Sequential(nn.Linear(channel, channel // reduction), nn.ReLU(inplace=True),
                                    nn.Linear(channel // reduction, channel), nn.Sigmoid())

        def forward(self, x):
            b, c = x.shape[:2]
            y = self.fc(self.avg_pool(x).view(b, c)).view(b, c, 1, 1)
            return x * y

    class SEBasicBlock(nn.Module):
        # voxceleb_trainer's block: conv -> ReLU -> BN (ReLU before BN), conv -> BN -> SE, + residual -> ReLU
        def __init__(self, inplanes, planes, stride=1, downsample=None, reduction=8):
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.relu = nn.ReLU(inplace=True)
            self.se = SELayer(planes, reduction)
            self.downsample = downsample

        def forward(self, x):
            residual = x if self.downsample is None else self.downsample(x)
            out = self.bn1(self.relu(self.conv1(x)))
            out = self.se(self.bn2(self.conv2(out)))
            return self.relu(out + residual)

    class ResNetSE34L(nn.Module):
        # voxceleb_trainer models/ResNetSE34L.py; spk's nets/resnet_se34l.cpp has the same layer list and names
        def __init__(self, n_mels=40, n_out=512, num_filters=(16, 32, 64, 128), layers=(3, 4, 6, 3)):
            super().__init__()
            self.inplanes = num_filters[0]
            self.conv1 = nn.Conv2d(1, num_filters[0], 7, stride=(2, 1), padding=3, bias=False)
            self.bn1 = nn.BatchNorm2d(num_filters[0])
            self.relu = nn.ReLU(inplace=True)
            self.layer1 = self._make_layer(num_filters[0], layers[0], 1)
            self.layer2 = self._make_layer(num_filters[1], layers[1], (2, 2))
            self.layer3 = self._make_layer(num_filters[2], layers[2], (2, 2))
            self.layer4 = self._make_layer(num_filters[3], layers[3], (1, 1))
            self.sap_linear = nn.Linear(num_filters[3], num_filters[3])
            self.attention = nn.Parameter(torch.empty(num_filters[3], 1))
            nn.init.xavier_normal_(self.attention)
            self.fc = nn.Linear(num_filters[3], n_out)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

        def _make_layer(self, planes, blocks, stride):
            downsample = None
            if stride != 1 or self.inplanes != planes:
                downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes, 1, stride=stride, bias=False),
                                           nn.BatchNorm2d(planes))
            mods = [SEBasicBlock(self.inplanes, planes, stride, downsample)]
            self.inplanes = planes
            mods += [SEBasicBlock(planes, planes) for _ in range(1, blocks)]
            return nn.Sequential(*mods)

        def forward(self, feats):  # (B, n_mels, T)
            x = self.relu(self.bn1(self.conv1(feats.unsqueeze(1))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            x = torch.mean(x, dim=2).transpose(1, 2)            # (B, T', C)
            h = torch.tanh(self.sap_linear(x))
            w = F.softmax(torch.matmul(h, self.attention).squeeze(2), dim=1).unsqueeze(2)
            return self.fc(torch.sum(x * w, dim=1))

    class SEModule(nn.Module):
        def __init__(self, channels, bottleneck=128):
            super().__init__()
            self.se = nn.Sequential(nn.AdaptiveAvgPool1d(1), nn.Conv1d(channels, bottleneck, 1), nn.ReLU(),
                                    nn.Conv1d(bottleneck, channels, 1), nn.Sigmoid())

        def forward(self, x):
            return x * self.se(x)

    class Bottle2neck(nn.Module):
        def __init__(self, inplanes, planes, kernel_size, dilation, scale=8):
            super().__init__()
            width = planes // scale
            self.conv1 = nn.Conv1d(inplanes, width * scale, 1)
            self.bn1 = nn.BatchNorm1d(width * scale)
            self.nums = scale - 1
            pad = (kernel_size // 2) * dilation
            self.convs = nn.ModuleList([nn.Conv1d(width, width, kernel_size, dilation=dilation, padding=pad)
                                        for _ in range(self.nums)])
            self.bns = nn.ModuleList([nn.BatchNorm1d(width) for _ in range(self.nums)])
            self.conv3 = nn.Conv1d(width * scale, planes, 1)
            self.bn3 = nn.BatchNorm1d(planes)
            self.relu = nn.ReLU()
            self.width = width
            self.se = SEModule(planes)

        def forward(self, x):
            out = self.bn1(self.relu(self.conv1(x)))
            spx = torch.split(out, self.width, 1)
            outs = []
            sp = None
            for i in range(self.nums):
                sp = spx[i] if i == 0 else sp + spx[i]
                sp = self.bns[i](self.relu(self.convs[i](sp)))
                outs.append(sp)
            out = torch.cat(outs + [spx[self.nums]], 1)
            out = self.bn3(self.relu(self.conv3(out)))
            return self.se(out) + x

    class EcapaTdnn(nn.Module):
        # TaoRuijie/ECAPA-TDNN model.py without the front end (spk's nets/ecapa_tdnn.* follows the same file)
        def __init__(self, C=512, n_mels=80, n_out=192):
            super().__init__()
            self.conv1 = nn.Conv1d(n_mels, C, 5, padding=2)
            self.relu = nn.ReLU()
            self.bn1 = nn.BatchNorm1d(C)
            self.layer1 = Bottle2neck(C, C, 3, 2)
            self.layer2 = Bottle2neck(C, C, 3, 3)
            self.layer3 = Bottle2neck(C, C, 3, 4)
            self.layer4 = nn.Conv1d(3 * C, 1536, 1)
            self.attention = nn.Sequential(nn.Conv1d(4608, 256, 1), nn.ReLU(), nn.BatchNorm1d(256), nn.Tanh(),
                                           nn.Conv1d(256, 1536, 1), nn.Softmax(dim=2))
            self.bn5 = nn.BatchNorm1d(3072)
            self.fc6 = nn.Linear(3072, n_out)
            self.bn6 = nn.BatchNorm1d(n_out)

        def forward(self, x):  # (B, n_mels, T)
            x = self.bn1(self.relu(self.conv1(x)))
            x1 = self.layer1(x)
            x2 = self.layer2(x + x1)
            x3 = self.layer3(x + x1 + x2)
            x = self.relu(self.layer4(torch.cat((x1, x2, x3), dim=1)))
            t = x.size(-1)
            mean = torch.mean(x, dim=2, keepdim=True).repeat(1, 1, t)
            std = torch.sqrt(torch.var(x, dim=2, keepdim=True).clamp(min=1e-4)).repeat(1, 1, t)
            w = self.attention(torch.cat((x, mean, std), dim=1))
            mu = torch.sum(x * w, dim=2)
            sg = torch.sqrt((torch.sum((x ** 2) * w, dim=2) - mu ** 2).clamp(min=1e-4))
            return self.bn6(self.fc6(self.bn5(torch.cat((mu, sg), 1))))

    class AAMSoftmax(nn.Module):
        # voxceleb_trainer loss/aamsoftmax.py (= TaoRuijie's AAMsoftmax), easy_margin False; returns loss, top-1 %
        def __init__(self, n_out, n_classes, margin=0.2, scale=30):
            super().__init__()
            self.weight = nn.Parameter(torch.empty(n_classes, n_out))
            nn.init.xavier_normal_(self.weight, gain=1)
            self.m, self.s = margin, scale
            self.cos_m, self.sin_m = math.cos(margin), math.sin(margin)
            self.th, self.mm = math.cos(math.pi - margin), math.sin(math.pi - margin) * margin

        def forward(self, x, label):
            cosine = F.linear(F.normalize(x), F.normalize(self.weight))
            sine = torch.sqrt((1.0 - cosine * cosine).clamp(0, 1))
            phi = cosine * self.cos_m - sine * self.sin_m
            phi = torch.where((cosine - self.th) > 0, phi, cosine - self.mm)
            one_hot = torch.zeros_like(cosine).scatter_(1, label.view(-1, 1), 1)
            output = ((one_hot * phi) + ((1.0 - one_hot) * cosine)) * self.s
            loss = F.cross_entropy(output, label)
            prec = (output.detach().argmax(1) == label).float().mean() * 100   # no .item(): no sync per step
            return loss, prec

    class AngleProto(nn.Module):
        # voxceleb_trainer loss/angleproto.py
        def __init__(self, init_w=10.0, init_b=-5.0):
            super().__init__()
            self.w = nn.Parameter(torch.tensor(init_w))
            self.b = nn.Parameter(torch.tensor(init_b))

        def forward(self, x, label=None):  # x (N, M, D)
            out_anchor = torch.mean(x[:, 1:, :], 1)
            out_positive = x[:, 0, :]
            n = out_anchor.size(0)
            cos = F.cosine_similarity(out_positive.unsqueeze(-1), out_anchor.unsqueeze(-1).transpose(0, 2))
            cos = cos * self.w + self.b
            target = torch.arange(n, device=x.device)
            loss = F.cross_entropy(cos, target)
            prec = (cos.detach().argmax(1) == target).float().mean() * 100
            return loss, prec

    return ResNetSE34L, EcapaTdnn, AAMSoftmax, AngleProto


# ----------------------------------------------------------------------------- workloads

def scaled(n, scale):
    return max(2, int(round(n * scale)))


def make_workload(name, device, scale, classes):
    """(params, step_fn(compiled: bool) -> closure, samples per step, description)."""
    ResNetSE34L, EcapaTdnn, AAMSoftmax, AngleProto = build_models()
    T = 202
    if name == "resnetse34l_angleproto":
        n_spk, m = scaled(200, scale), 2
        model, loss = ResNetSE34L().to(device), AngleProto().to(device)
        feats = torch.randn(n_spk * m, 40, T, device=device)
        labels = None
        shape = lambda emb: emb.view(n_spk, m, -1)
        samples, desc = n_spk * m, f"{n_spk} spk x {m} utt x {T} frames, ResNetSE34L + angleproto"
    elif name == "ecapa_aam":
        b = scaled(256, scale)
        model, loss = EcapaTdnn(C=512).to(device), AAMSoftmax(192, classes).to(device)
        feats = torch.randn(b, 80, T, device=device)
        labels = torch.randint(0, classes, (b,), device=device)
        shape = lambda emb: emb
        samples, desc = b, f"batch {b} x {T} frames, ECAPA-TDNN C=512 + AAM over {classes} classes"
    elif name == "aam_loss":
        b = scaled(256, scale)
        model, loss = None, AAMSoftmax(512, classes).to(device)
        feats = torch.randn(b, 512, device=device, requires_grad=True)
        labels = torch.randint(0, classes, (b,), device=device)
        samples, desc = b, f"B {b}, C {classes}, D 512, AAM-softmax forward + backward"
    else:
        raise ValueError(f"unknown workload {name}")

    params = list(loss.parameters()) + (list(model.parameters()) if model is not None else [])
    opt = torch.optim.Adam(params, lr=1e-3) if model is not None else None

    def build(compiled, autocast_dtype):
        fwd_model = torch.compile(model) if (compiled and model is not None) else model
        fwd_loss = torch.compile(loss) if compiled else loss

        def step():
            if opt is not None:
                opt.zero_grad(set_to_none=True)
            else:
                feats.grad = None
                loss.weight.grad = None
            with torch.autocast(device_type=device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
                if model is None:
                    l, _ = fwd_loss(feats, labels)
                else:
                    l, _ = fwd_loss(shape(fwd_model(feats)), labels)
            l.backward()
            if opt is not None:
                opt.step()
        return step

    return build, samples, desc


def set_precision(precision):
    tf32 = precision in ("tf32", "bf16")
    if torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
    return torch.bfloat16 if precision == "bf16" else None


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_steps(step, device, steps, warmup):
    for _ in range(warmup):
        step()
    sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return (time.perf_counter() - t0) / steps


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    ap.add_argument("--steps", type=int, default=20, help="timed steps per configuration (default 20)")
    ap.add_argument("--warmup", type=int, default=5, help="untimed steps first (default 5; compile happens here)")
    ap.add_argument("--workloads", default="resnetse34l_angleproto,ecapa_aam,aam_loss")
    ap.add_argument("--modes", default="eager,compile")
    ap.add_argument("--precisions", default="fp32,tf32,bf16")
    ap.add_argument("--classes", type=int, default=5994, help="speakers of the classifier (default 5994)")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiply the batch sizes (e.g. 0.02 for a quick CPU smoke check); 1 = the real shapes")
    ap.add_argument("--json", default=None, help="write the results here")
    args = ap.parse_args(argv)

    if torch is None:
        print("compare_train_step.py: PyTorch is not installed (pip install torch)", file=sys.stderr)
        return 2
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("compare_train_step.py: no CUDA device; use --device cpu", file=sys.stderr)
        return 2
    dev_name = torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or "cpu")
    print(f"# torch {torch.__version__} on {dev_name}; steps {args.steps}, warmup {args.warmup}, scale {args.scale}")

    results = []
    for wname in [w for w in args.workloads.split(",") if w]:
        for mode in [m for m in args.modes.split(",") if m]:
            for precision in [p for p in args.precisions.split(",") if p]:
                torch.manual_seed(0)
                rec = {"workload": wname, "mode": mode, "precision": precision, "device": dev_name}
                try:
                    autocast_dtype = set_precision(precision)
                    build, samples, desc = make_workload(wname, device, args.scale, args.classes)
                    step = build(mode == "compile", autocast_dtype)
                    secs = time_steps(step, device, args.steps, max(1, args.warmup))
                    rec.update(samples_per_step=samples, step_ms=secs * 1e3, samples_per_s=samples / secs,
                               description=desc)
                    print(f"{wname} {mode} {precision} | {samples} samples/step | {secs * 1e3:10.2f} ms/step | "
                          f"{samples / secs:12.1f} samples/s | {dev_name}")
                except Exception as e:  # a mode the platform lacks (e.g. no compiler for torch.compile) is reported
                    rec["error"] = f"{type(e).__name__}: {e}"
                    print(f"{wname} {mode} {precision} | failed: {rec['error'].splitlines()[0]}")
                results.append(rec)
                sys.stdout.flush()

    if args.json:
        doc = {"tool": "bench/torch/compare_train_step.py", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "torch": torch.__version__, "cuda": torch.version.cuda, "device": dev_name,
               "python": platform.python_version(), "steps": args.steps, "warmup": args.warmup,
               "scale": args.scale, "results": results}
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1)
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
