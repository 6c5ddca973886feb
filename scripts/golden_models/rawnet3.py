"""PyTorch definition of voxceleb_trainer's RawNet3 (github.com/clovaai/voxceleb_trainer models/RawNet3.py,
models/RawNetBasicBlock.py) with asteroid-filterbanks' Encoder(ParamSincFB) front end
(github.com/asteroid-team/asteroid-filterbanks asteroid_filterbanks/param_sinc_fb.py, enc_dec.py), for
scripts/make_model_golden.py. MainModel's settings: Bottle2neck, model_scale 8, context True, summed True,
out_bn False, log_sinc True, norm_sinc "mean"; nOut 256, encoder_type ECA, sinc_stride 10 (configs/RawNet3_AAM.yaml).

Written from the anchors' Python, not from spk's C++; module, parameter and buffer names are the anchors', so the
state_dict is the one a voxceleb_trainer RawNet3 checkpoint holds (without the trainer's "__S__." prefix). Two
deliberate differences that do not change the function:
  * input (B, 1, L) instead of (B, L) (PreEmphasis unsqueezes it first);
  * ParamSincFB's buffers window_ and n_ are kept for the state_dict, but the filters are made from their formulas
    in the model's dtype, so model.double() gives a float64 reference (the float32 buffers, cast, would not).
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class PreEmphasis(nn.Module):
    def __init__(self, coef=0.97):
        super().__init__()
        self.coef = coef
        self.register_buffer("flipped_filter", torch.FloatTensor([-self.coef, 1.0]).unsqueeze(0).unsqueeze(0))

    def forward(self, x):            # (B, 1, L): the reference's input.unsqueeze(1)
        x = F.pad(x, (1, 0), "reflect")
        return F.conv1d(x, self.flipped_filter)


class ParamSincFB(nn.Module):
    # param_sinc_fb.py ParamSincFB(n_filters, kernel_size, stride, sample_rate 16000, min_low_hz 50, min_band_hz 50).
    def __init__(self, n_filters, kernel_size, stride, sample_rate=16000.0, min_low_hz=50, min_band_hz=50):
        super().__init__()
        self.n_filters, self.kernel_size, self.stride = n_filters, kernel_size, stride
        self.sample_rate, self.min_low_hz, self.min_band_hz = sample_rate, min_low_hz, min_band_hz
        self.half_kernel = kernel_size // 2
        to_mel = lambda hz: 2595 * np.log10(1 + hz / 700)
        to_hz = lambda mel: 700 * (10 ** (mel / 2595) - 1)
        low_hz, high_hz = 30, sample_rate / 2 - (min_low_hz + min_band_hz)
        mel = np.linspace(to_mel(low_hz), to_mel(high_hz), n_filters // 2 + 1, dtype="float32")
        hz = to_hz(mel)
        self.low_hz_ = nn.Parameter(torch.from_numpy(hz[:-1]).view(-1, 1))
        self.band_hz_ = nn.Parameter(torch.from_numpy(np.diff(hz)).view(-1, 1))
        window_, n_ = self.window_and_n(torch.float32)
        self.register_buffer("window_", window_)
        self.register_buffer("n_", n_)

    def window_and_n(self, dtype):
        window = torch.from_numpy(np.hamming(self.kernel_size)[: self.half_kernel])   # float64
        n_ = 2 * math.pi * (torch.arange(-self.half_kernel, 0.0, dtype=torch.float64).view(1, -1) / self.sample_rate)
        return window.to(dtype), n_.to(dtype)

    def filters(self):
        low = self.min_low_hz + torch.abs(self.low_hz_)
        high = torch.clamp(low + self.min_band_hz + torch.abs(self.band_hz_), self.min_low_hz, self.sample_rate / 2)
        return torch.cat([self.make_filters(low, high, "cos"), self.make_filters(low, high, "sin")], dim=0)

    def make_filters(self, low, high, filt_type):
        window_, n_ = self.window_and_n(low.dtype)
        band = (high - low)[:, 0]
        ft_low = torch.matmul(low, n_)
        ft_high = torch.matmul(high, n_)
        if filt_type == "cos":
            bp_left = ((torch.sin(ft_high) - torch.sin(ft_low)) / (n_ / 2)) * window_
            bp_center = 2 * band.view(-1, 1)
            bp_right = torch.flip(bp_left, dims=[1])
        else:
            bp_left = ((torch.cos(ft_low) - torch.cos(ft_high)) / (n_ / 2)) * window_
            bp_center = torch.zeros_like(band.view(-1, 1))
            bp_right = -torch.flip(bp_left, dims=[1])
        band_pass = torch.cat([bp_left, bp_center, bp_right], dim=1)
        band_pass = band_pass / (2 * band[:, None])
        return band_pass.view(self.n_filters // 2, 1, self.kernel_size)


class Encoder(nn.Module):
    # enc_dec.py Encoder(filterbank), padding 0, as_conv1d: (B, 1, L) -> conv1d with the filterbank's filters.
    def __init__(self, filterbank):
        super().__init__()
        self.filterbank = filterbank

    def forward(self, x):
        return F.conv1d(x, self.filterbank.filters(), stride=self.filterbank.stride)


class AFMS(nn.Module):
    def __init__(self, nb_dim):
        super().__init__()
        self.alpha = nn.Parameter(torch.ones((nb_dim, 1)))
        self.fc = nn.Linear(nb_dim, nb_dim)
        self.sig = nn.Sigmoid()

    def forward(self, x):
        y = F.adaptive_avg_pool1d(x, 1).view(x.size(0), -1)
        y = self.sig(self.fc(y)).view(x.size(0), x.size(1), -1)
        return (x + self.alpha) * y


class Bottle2neck(nn.Module):
    def __init__(self, inplanes, planes, kernel_size=None, dilation=None, scale=4, pool=False):
        super().__init__()
        width = int(math.floor(planes / scale))
        self.conv1 = nn.Conv1d(inplanes, width * scale, kernel_size=1)
        self.bn1 = nn.BatchNorm1d(width * scale)
        self.nums = scale - 1
        num_pad = math.floor(kernel_size / 2) * dilation
        self.convs = nn.ModuleList([nn.Conv1d(width, width, kernel_size=kernel_size, dilation=dilation,
                                              padding=num_pad) for _ in range(self.nums)])
        self.bns = nn.ModuleList([nn.BatchNorm1d(width) for _ in range(self.nums)])
        self.conv3 = nn.Conv1d(width * scale, planes, kernel_size=1)
        self.bn3 = nn.BatchNorm1d(planes)
        self.relu = nn.ReLU()
        self.width = width
        self.mp = nn.MaxPool1d(pool) if pool else False
        self.afms = AFMS(planes)
        if inplanes != planes:
            self.residual = nn.Sequential(nn.Conv1d(inplanes, planes, kernel_size=1, stride=1, bias=False))
        else:
            self.residual = nn.Identity()

    def forward(self, x):
        residual = self.residual(x)
        out = self.bn1(self.relu(self.conv1(x)))
        spx = torch.split(out, self.width, 1)
        for i in range(self.nums):
            sp = spx[i] if i == 0 else sp + spx[i]
            sp = self.bns[i](self.relu(self.convs[i](sp)))
            out = sp if i == 0 else torch.cat((out, sp), 1)
        out = torch.cat((out, spx[self.nums]), 1)
        out = self.bn3(self.relu(self.conv3(out)))
        out += residual
        if self.mp:
            out = self.mp(out)
        return self.afms(out)


class RawNet3(nn.Module):
    def __init__(self, nOut=256, encoder_type="ECA", sinc_stride=10, C=1024, model_scale=8):
        super().__init__()
        self.encoder_type = encoder_type
        self.preprocess = nn.Sequential(PreEmphasis(), nn.InstanceNorm1d(1, eps=1e-4, affine=True))
        self.conv1 = Encoder(ParamSincFB(C // 4, 251, stride=sinc_stride))
        self.relu = nn.ReLU()
        self.bn1 = nn.BatchNorm1d(C // 4)
        self.layer1 = Bottle2neck(C // 4, C, kernel_size=3, dilation=2, scale=model_scale, pool=5)
        self.layer2 = Bottle2neck(C, C, kernel_size=3, dilation=3, scale=model_scale, pool=3)
        self.layer3 = Bottle2neck(C, C, kernel_size=3, dilation=4, scale=model_scale)
        self.layer4 = nn.Conv1d(3 * C, 1536, kernel_size=1)
        attn_output = {"ECA": 1536, "ASP": 1}[encoder_type]
        self.attention = nn.Sequential(nn.Conv1d(1536 * 3, 128, kernel_size=1), nn.ReLU(), nn.BatchNorm1d(128),
                                       nn.Conv1d(128, attn_output, kernel_size=1), nn.Softmax(dim=2))
        self.bn5 = nn.BatchNorm1d(3072)
        self.fc6 = nn.Linear(3072, nOut)
        self.bn6 = nn.BatchNorm1d(nOut)
        self.mp3 = nn.MaxPool1d(3)

    def forward(self, x):            # (B, 1, L)
        x = self.preprocess(x)
        x = torch.abs(self.conv1(x))
        x = torch.log(x + 1e-6)
        x = x - torch.mean(x, dim=-1, keepdim=True)
        x1 = self.layer1(x)
        x2 = self.layer2(x1)
        x3 = self.layer3(self.mp3(x1) + x2)
        x = self.relu(self.layer4(torch.cat((self.mp3(x1), x2, x3), dim=1)))
        t = x.size()[-1]
        global_x = torch.cat((x, torch.mean(x, dim=2, keepdim=True).repeat(1, 1, t),
                              torch.sqrt(torch.var(x, dim=2, keepdim=True).clamp(min=1e-4, max=1e4)).repeat(1, 1, t)),
                             dim=1)
        w = self.attention(global_x)
        mu = torch.sum(x * w, dim=2)
        sg = torch.sqrt((torch.sum((x ** 2) * w, dim=2) - mu ** 2).clamp(min=1e-4, max=1e4))
        x = torch.cat((mu, sg), 1)
        return self.fc6(self.bn5(x))   # out_bn False: bn6 unused


def init_param(name, shape, gen):
    """Sinc cut-offs near asteroid's mel-spaced initialisation, instance-norm gains and AFMS alphas near 1."""
    if name.endswith("low_hz_") or name.endswith("band_hz_"):
        ref = ParamSincFB(2 * shape[0], 251, 10)
        base = ref.low_hz_ if name.endswith("low_hz_") else ref.band_hz_
        return base.detach() * (1 + 0.2 * torch.rand(shape, generator=gen) - 0.1)
    if name.startswith("preprocess.1."):
        return (1.0 if name.endswith("weight") else 0.0) + 0.1 * torch.randn(shape, generator=gen)
    if name.endswith("afms.alpha"):
        return 1.0 + 0.1 * torch.randn(shape, generator=gen)
    return None


# attention.3.bias (a shift over time before the softmax) has gradient 0 in exact arithmetic; bn1 and bn6 are
# unused by the forward. Neither is listed.
GRADS = ["preprocess.1.weight", "preprocess.1.bias", "conv1.filterbank.low_hz_", "conv1.filterbank.band_hz_",
         "layer1.conv1.bias", "layer1.bns.3.weight", "layer1.afms.alpha", "layer1.afms.fc.bias",
         "layer2.convs.6.bias", "layer2.bn3.bias", "layer2.afms.alpha", "layer3.bn1.weight", "layer3.afms.fc.bias",
         "layer4.bias", "attention.0.bias", "attention.2.weight", "bn5.weight", "fc6.bias"]

CASES = [
    dict(case="RawNet3_ECA", model="RawNet3", config=dict(n_mels=1, nOut=256, encoder_type="ECA", C=1024),
         build=lambda: RawNet3(256, "ECA", 10, 1024), input_shape=(2, 1, 1600), init_param=init_param,
         grad_params=GRADS),
    dict(case="RawNet3_ASP_C256", model="RawNet3", config=dict(n_mels=1, nOut=64, encoder_type="ASP", C=256),
         build=lambda: RawNet3(64, "ASP", 10, 256), input_shape=(2, 1, 1600), init_param=init_param,
         grad_params=GRADS),
]
