"""PyTorch definitions of ECAPA-TDNN (TaoRuijie/ECAPA-TDNN model.py), wespeaker's x-vector TDNN
(wenet-e2e/wespeaker wespeaker/models/tdnn.py, XVEC) and wespeaker's ResNet34 with TSTP
(wespeaker/models/resnet.py, pooling_layers.py), for scripts/make_model_golden.py.

Written from the anchors' code, not from spk's nets/: the golden files exist to catch spk getting a residual,
a pooling order or a variance convention wrong. Only the bodies are here. spk's models take features
(B, n_mels, T) and run the front end outside the model, so each forward starts where the anchor's forward has
finished its front end:
  * TaoRuijie ECAPA_TDNN.forward: after torchfbank, +1e-6, log, mean subtraction and SpecAugment.
  * wespeaker XVEC / ResNet: after the (B, T, F) -> (B, F, T) permute that opens _get_frame_level_feat.
Module attribute names equal the anchors' (so the state_dict names are spk's, see docs/models.md), and the
sizes the anchors hard-code (ECAPA's 80 input channels and 192 outputs) are constructor arguments here.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


# --- TaoRuijie/ECAPA-TDNN model.py -------------------------------------------------------------------------

class SEModule(nn.Module):
    # nn.Sequential indices as the anchor: 0 AdaptiveAvgPool1d, 1 Conv1d, 2 ReLU, 3 Conv1d, 4 Sigmoid
    # (the anchor removed a BatchNorm that used to sit between the ReLU and the second conv).
    def __init__(self, channels, bottleneck=128):
        super().__init__()
        self.se = nn.Sequential(
            nn.AdaptiveAvgPool1d(1),
            nn.Conv1d(channels, bottleneck, kernel_size=1, padding=0),
            nn.ReLU(),
            nn.Conv1d(bottleneck, channels, kernel_size=1, padding=0),
            nn.Sigmoid(),
        )

    def forward(self, x):
        return x * self.se(x)


class Bottle2neck(nn.Module):
    # Res2Net block: 1x1 conv -> ReLU -> BN, split into `scale` groups of `width` channels; group i (i < scale-1)
    # goes through conv -> ReLU -> BN after adding the previous group's OUTPUT (hierarchical), the last group
    # passes through untouched; concat -> 1x1 conv -> ReLU -> BN -> SE -> + input.
    def __init__(self, inplanes, planes, kernel_size, dilation, scale=8):
        super().__init__()
        width = int(math.floor(planes / scale))
        self.conv1 = nn.Conv1d(inplanes, width * scale, kernel_size=1)
        self.bn1 = nn.BatchNorm1d(width * scale)
        self.nums = scale - 1
        pad = math.floor(kernel_size / 2) * dilation
        self.convs = nn.ModuleList(
            [nn.Conv1d(width, width, kernel_size=kernel_size, dilation=dilation, padding=pad) for _ in range(self.nums)])
        self.bns = nn.ModuleList([nn.BatchNorm1d(width) for _ in range(self.nums)])
        self.conv3 = nn.Conv1d(width * scale, planes, kernel_size=1)
        self.bn3 = nn.BatchNorm1d(planes)
        self.width = width
        self.se = SEModule(planes)

    def forward(self, x):
        out = self.bn1(F.relu(self.conv1(x)))
        spx = torch.split(out, self.width, 1)
        outs = []
        sp = None
        for i in range(self.nums):
            sp = spx[i] if i == 0 else sp + spx[i]
            sp = self.bns[i](F.relu(self.convs[i](sp)))
            outs.append(sp)
        outs.append(spx[self.nums])
        out = self.bn3(F.relu(self.conv3(torch.cat(outs, 1))))
        return self.se(out) + x


class ECAPA_TDNN(nn.Module):
    def __init__(self, C, n_mels=80, nOut=192):
        super().__init__()
        self.conv1 = nn.Conv1d(n_mels, C, kernel_size=5, stride=1, padding=2)
        self.bn1 = nn.BatchNorm1d(C)
        self.layer1 = Bottle2neck(C, C, kernel_size=3, dilation=2, scale=8)
        self.layer2 = Bottle2neck(C, C, kernel_size=3, dilation=3, scale=8)
        self.layer3 = Bottle2neck(C, C, kernel_size=3, dilation=4, scale=8)
        self.layer4 = nn.Conv1d(3 * C, 1536, kernel_size=1)
        # Indices as the anchor: 0 Conv1d, 1 ReLU, 2 BN, 3 Tanh, 4 Conv1d, 5 Softmax over time.
        self.attention = nn.Sequential(
            nn.Conv1d(4608, 256, kernel_size=1),
            nn.ReLU(),
            nn.BatchNorm1d(256),
            nn.Tanh(),
            nn.Conv1d(256, 1536, kernel_size=1),
            nn.Softmax(dim=2),
        )
        self.bn5 = nn.BatchNorm1d(3072)
        self.fc6 = nn.Linear(3072, nOut)
        self.bn6 = nn.BatchNorm1d(nOut)

    def forward(self, x):                      # x (B, n_mels, T): log-mel minus its time mean
        x = self.bn1(F.relu(self.conv1(x)))
        x1 = self.layer1(x)
        x2 = self.layer2(x + x1)               # dense inputs: each layer sees the sum of all before it
        x3 = self.layer3(x + x1 + x2)
        x = F.relu(self.layer4(torch.cat((x1, x2, x3), dim=1)))
        t = x.size(-1)
        # Global context: torch.var is the UNBIASED variance; the std is clamped at 1e-4 BEFORE the sqrt.
        global_x = torch.cat((x, torch.mean(x, dim=2, keepdim=True).repeat(1, 1, t),
                              torch.sqrt(torch.var(x, dim=2, keepdim=True).clamp(min=1e-4)).repeat(1, 1, t)), dim=1)
        w = self.attention(global_x)
        mu = torch.sum(x * w, dim=2)
        sg = torch.sqrt((torch.sum((x ** 2) * w, dim=2) - mu ** 2).clamp(min=1e-4))
        x = torch.cat((mu, sg), 1)
        return self.bn6(self.fc6(self.bn5(x)))


# --- wespeaker/models/pooling_layers.py TSTP ---------------------------------------------------------------

def tstp(x):
    # x (B, ..., T): mean and sqrt(unbiased var + 1e-7) over the last axis, each flattened from dim 1
    # (for ResNet's (B, C, F, T) that is channel-major, C*F), then concatenated [mean; std].
    mean = x.mean(dim=-1).flatten(start_dim=1)
    std = torch.sqrt(torch.var(x, dim=-1) + 1e-7).flatten(start_dim=1)
    return torch.cat((mean, std), 1)


# --- wespeaker/models/tdnn.py ------------------------------------------------------------------------------

class TdnnLayer(nn.Module):
    # Dilated valid Conv1d -> ReLU -> BatchNorm1d(affine=False) (Kaldi's layout).
    def __init__(self, in_dim, out_dim, context_size, dilation=1, padding=0):
        super().__init__()
        self.conv_1d = nn.Conv1d(in_dim, out_dim, context_size, dilation=dilation, padding=padding)
        self.bn = nn.BatchNorm1d(out_dim, affine=False)

    def forward(self, x):
        return self.bn(F.relu(self.conv_1d(x)))


class XVEC(nn.Module):
    # wespeaker XVEC(feat_dim, hid_dim=512, stats_dim=1500, embed_dim=512, 'TSTP'), up to embed_a = seg_1(stats),
    # which is what spk's TDNN returns. The anchor's seg_bn_1 / seg_2 (embed_b, classifier side) come only
    # with segment7=True, for checkpoints shaped like a wespeaker training's.
    def __init__(self, feat_dim=80, hid_dim=512, stats_dim=1500, embed_dim=512, segment7=False):
        super().__init__()
        self.frame_1 = TdnnLayer(feat_dim, hid_dim, context_size=5, dilation=1)
        self.frame_2 = TdnnLayer(hid_dim, hid_dim, context_size=3, dilation=2)
        self.frame_3 = TdnnLayer(hid_dim, hid_dim, context_size=3, dilation=3)
        self.frame_4 = TdnnLayer(hid_dim, hid_dim, context_size=1, dilation=1)
        self.frame_5 = TdnnLayer(hid_dim, stats_dim, context_size=1, dilation=1)
        self.seg_1 = nn.Linear(stats_dim * 2, embed_dim)
        if segment7:
            self.seg_bn_1 = nn.BatchNorm1d(embed_dim, affine=False)
            self.seg_2 = nn.Linear(embed_dim, embed_dim)

    def forward(self, x):                      # x (B, feat_dim, T), T >= 16
        out = self.frame_5(self.frame_4(self.frame_3(self.frame_2(self.frame_1(x)))))
        return self.seg_1(tstp(out))           # embed_a


# --- wespeaker/models/resnet.py ----------------------------------------------------------------------------

class BasicBlock(nn.Module):
    expansion = 1

    # conv3x3(stride) -> BN -> ReLU -> conv3x3 -> BN, + shortcut (1x1 conv(stride) + BN when the shape
    # changes), -> ReLU. No conv biases.
    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != self.expansion * planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, self.expansion * planes, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(self.expansion * planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    # wespeaker ResNet(block, num_blocks, m_channels=32, feat_dim, embed_dim, 'TSTP', two_emb_layer=False):
    # returns embed_a = seg_1(TSTP(frame-level map)).
    def __init__(self, block, num_blocks, m_channels=32, feat_dim=80, embed_dim=256):
        super().__init__()
        self.in_planes = m_channels
        stats_dim = int(feat_dim / 8) * m_channels * 8
        self.conv1 = nn.Conv2d(1, m_channels, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(m_channels)
        self.layer1 = self._make_layer(block, m_channels, num_blocks[0], stride=1)
        self.layer2 = self._make_layer(block, m_channels * 2, num_blocks[1], stride=2)
        self.layer3 = self._make_layer(block, m_channels * 4, num_blocks[2], stride=2)
        self.layer4 = self._make_layer(block, m_channels * 8, num_blocks[3], stride=2)
        self.seg_1 = nn.Linear(stats_dim * block.expansion * 2, embed_dim)

    def _make_layer(self, block, planes, num_blocks, stride):
        layers = []
        for s in [stride] + [1] * (num_blocks - 1):
            layers.append(block(self.in_planes, planes, s))
            self.in_planes = planes * block.expansion
        return nn.Sequential(*layers)

    def forward(self, x):                      # x (B, feat_dim, T)
        out = F.relu(self.bn1(self.conv1(x.unsqueeze(1))))   # (B, 1, F, T): frequency is the image height
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        return self.seg_1(tstp(out))           # TSTP over T of (B, C, F'', T''), flattened channel-major


def ResNet34(feat_dim, embed_dim):
    return ResNet(BasicBlock, [3, 4, 6, 3], feat_dim=feat_dim, embed_dim=embed_dim)


# --- the cases ---------------------------------------------------------------------------------------------
# Gradients: one small parameter per block. Left out on purpose, because their exact gradient is zero and a
# relative comparison of rounding noise means nothing: biases feeding a train-mode BatchNorm directly (fc6.bias
# -> bn6; bn5.bias is a per-channel constant that bn6 removes after fc6) and the last attention conv's bias
# (a per-channel constant over time, which the softmax over time cancels).
# ECAPA uses B = 4: bn5 and bn6 normalise over the batch, and with B = 2 every normalised value is +-1 up to
# eps, so the backward through them is a cancellation (1 - y^2 ~ 1e-5) that float32 cannot resolve.

def _ecapa_grads():
    names = ['conv1.bias', 'bn1.weight']
    for i, (a, b) in enumerate([('bns.0.weight', 'se.se.1.bias'), ('convs.3.bias', 'bn3.weight'),
                                ('bn1.bias', 'se.se.3.bias')]):
        names += ['layer%d.%s' % (i + 1, a), 'layer%d.%s' % (i + 1, b)]
    return names + ['layer4.bias', 'attention.0.bias', 'attention.2.weight', 'bn5.weight', 'bn6.weight', 'bn6.bias']


def _resnet34_grads():
    names = ['conv1.weight', 'bn1.bias']
    picks = ['bn1.weight', 'bn2.bias', 'bn2.weight', 'bn1.bias']
    k = 0
    for layer, blocks in enumerate([3, 4, 6, 3]):
        for i in range(blocks):
            names.append('layer%d.%d.%s' % (layer + 1, i, picks[k % len(picks)]))
            k += 1
        if layer > 0:
            names.append('layer%d.0.shortcut.1.weight' % (layer + 1))
    return names + ['seg_1.bias']


CASES = [
    dict(case='ECAPA_C512', model='ECAPA_TDNN',
         config=dict(n_mels=80, nOut=192, encoder_type='ASP', C=512),
         build=lambda: ECAPA_TDNN(512, n_mels=80, nOut=192), input_shape=(4, 80, 64), grad_params=_ecapa_grads()),
    dict(case='ECAPA_C1024', model='ECAPA_TDNN',
         config=dict(n_mels=80, nOut=192, encoder_type='ASP', C=1024),
         build=lambda: ECAPA_TDNN(1024, n_mels=80, nOut=192), input_shape=(4, 80, 64), grad_params=_ecapa_grads()),
    dict(case='TDNN', model='TDNN',
         config=dict(n_mels=80, nOut=512, encoder_type='TSTP', C=0),
         build=lambda: XVEC(feat_dim=80, embed_dim=512), input_shape=(2, 80, 64),
         grad_params=['frame_%d.conv_1d.bias' % i for i in range(1, 6)] + ['seg_1.bias']),
    dict(case='ResNet34_TSTP', model='ResNet34',
         config=dict(n_mels=80, nOut=256, encoder_type='TSTP', C=0),
         build=lambda: ResNet34(80, 256), input_shape=(2, 80, 80), grad_params=_resnet34_grads()),
]


# --- optional: compare with the anchors' own classes -------------------------------------------------------
# /usr/bin/python3 scripts/golden_models/ecapa_wespeaker.py TAO_DIR WESPEAKER_DIR
# (checkouts of TaoRuijie/ECAPA-TDNN and wenet-e2e/wespeaker). Random weights (BatchNorm statistics included)
# go into these definitions, are loaded into the anchors' classes, and both run in float64 in eval and train
# mode. TaoRuijie's forward holds its front end: torchfbank is replaced by the identity and it is fed
# exp(x) - 1e-6 with x of zero time mean, so its "+1e-6, log, minus the time mean" gives back x.

def _check_against_anchors(tao_dir, wespeaker_dir):
    import sys
    sys.path[:0] = [tao_dir, wespeaker_dir]
    import model as tao_model
    from wespeaker.models import resnet, tdnn
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(0)
    worst = 0.0
    for c in CASES:
        mine = c['build']()
        with torch.no_grad():
            for n, b in mine.named_buffers():
                if n.endswith('running_var'):
                    b.uniform_(0.5, 2)
                elif n.endswith('running_mean'):
                    b.normal_(0, 0.3)
            for n, p in mine.named_parameters():
                if p.dim() == 1:
                    p.normal_(1.0 if n.endswith('weight') else 0.0, 0.2)
        x = torch.randn(*c['input_shape'])
        if c['model'] == 'ECAPA_TDNN':
            ref = tao_model.ECAPA_TDNN(c['config']['C'])
            ref.torchfbank = nn.Identity()
            x = x - x.mean(-1, keepdim=True)
            ref.load_state_dict(mine.state_dict(), strict=True)
            run = lambda m: m(torch.exp(x) - 1e-6, aug=False)
        elif c['model'] == 'TDNN':
            ref = tdnn.XVEC(feat_dim=80, embed_dim=512)
            missing = ref.load_state_dict(mine.state_dict(), strict=False).missing_keys
            assert all(k.startswith(('seg_bn_1.', 'seg_2.')) for k in missing), missing
            run = lambda m: m(x.transpose(1, 2))[0]        # embed_a
        else:
            ref = resnet.ResNet34(80, 256, pooling_func='TSTP', two_emb_layer=False)
            ref.load_state_dict(mine.state_dict(), strict=True)
            run = lambda m: m(x.transpose(1, 2))[1]        # embed_a
        for train in (False, True):
            mine.train(train)
            ref.train(train)
            d = float((mine(x) - run(ref)).abs().max())
            worst = max(worst, d)
            print('%-14s %-5s max|diff| %.3g' % (c['case'], 'train' if train else 'eval', d))
    assert worst < 1e-12, worst


if __name__ == '__main__':
    import sys
    if len(sys.argv) != 3:
        sys.exit('usage: ecapa_wespeaker.py TAO_ECAPA_DIR WESPEAKER_DIR')
    _check_against_anchors(sys.argv[1], sys.argv[2])
