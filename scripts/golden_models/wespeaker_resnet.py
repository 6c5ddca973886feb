"""PyTorch definitions of wespeaker's ResNet family (wenet-e2e/wespeaker wespeaker/models/resnet.py: ResNet18 ...
ResNet293, BasicBlock / Bottleneck, m_channels 32, two_emb_layer=False) with TSTP or MQMHASTP pooling
(wespeaker/models/pooling_layers.py), for scripts/make_model_golden.py and scripts/make_wespeaker_resnet_family.py.

Written from the anchor's code, not from spk's nets/ (see golden_models/ecapa_wespeaker.py for the conventions:
the forward starts after wespeaker's (B, T, F) -> (B, F, T) permute; module attribute names are the anchor's, so
the state_dict names are wespeaker's). The frequency size after the three stride-2 stages is computed as the
convolutions give it (ceil thrice), which is wespeaker's int(feat_dim / 8) for feat_dim divisible by 8.

Also the HardNeg seed's own copy of these ResNets (CJchanghwan/speaker_recognition_framework model.py), which is
not wespeaker's: ResNetHardNeg below.

Check against the anchors' own classes (random weights, float64, eval and train mode, every depth's names):
    /usr/bin/python3 scripts/golden_models/wespeaker_resnet.py WESPEAKER_DIR [HARDNEG_DIR]
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from golden_models.ecapa_wespeaker import BasicBlock, tstp  # noqa: E402


class Bottleneck(nn.Module):
    expansion = 4

    # conv1 1x1 -> BN -> ReLU -> conv2 3x3 (stride) -> BN -> ReLU -> conv3 1x1 (4 planes) -> BN, + shortcut
    # (1x1 conv (stride) + BN when the shape changes) -> ReLU. No conv biases.
    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, self.expansion * planes, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(self.expansion * planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != self.expansion * planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, self.expansion * planes, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(self.expansion * planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + self.shortcut(x))


class MHASTP(nn.Module):
    # Heads = torch.chunk of the channels; per head a stack of 1x1 convs att_0 .. att_{n-1} with tanh between
    # (Sequential names 'att_i' and 'tanh_i', the tanh holding nothing), softmax over time, attentive mean and
    # sqrt(clamp(E[x^2] - mean^2, 1e-7)); d_s > 1 means one weight per channel (d_s' = d_model), else per frame.
    def __init__(self, in_dim, layer_num=2, head_num=2, d_s=1, bottleneck_dim=64):
        super().__init__()
        assert in_dim % head_num == 0
        self.head_num = head_num
        d_model = in_dim // head_num
        dims = [bottleneck_dim] * (layer_num + 1)
        dims[0], dims[-1] = d_model, (d_model if d_s > 1 else 1)
        heads = []
        for _ in range(head_num):
            seq = nn.Sequential()
            for i in range(layer_num):
                if i > 0:
                    seq.add_module('tanh%d' % (i - 1), nn.Tanh())
                seq.add_module('att_%d' % i, nn.Conv1d(dims[i], dims[i + 1], 1, 1))
            heads.append(seq)
        self.heads_att_trans = nn.ModuleList(heads)

    def forward(self, x):                      # (B, in_dim, T) -> (B, 2 in_dim): per head [mean; std]
        out = []
        for chunk, layer in zip(torch.chunk(x, self.head_num, 1), self.heads_att_trans):
            alpha = F.softmax(layer(chunk), dim=-1)
            mean = torch.sum(alpha * chunk, dim=2)
            var = torch.sum(alpha * chunk ** 2, dim=2) - mean ** 2
            out.append(torch.cat((mean, torch.sqrt(var.clamp(min=1e-7))), dim=1))
        return torch.cat(out, dim=1)


class MQMHASTP(nn.Module):
    # wespeaker's defaults, which its ResNet keeps (it passes only in_dim).
    def __init__(self, in_dim, layer_num=2, query_num=2, head_num=8, d_s=2, bottleneck_dim=64):
        super().__init__()
        self.n_query = nn.ModuleList([MHASTP(in_dim, layer_num, head_num, d_s, bottleneck_dim)
                                      for _ in range(query_num)])
        self.out_dim = 2 * query_num * in_dim

    def forward(self, x):
        return torch.cat([q(x) for q in self.n_query], dim=-1)


class ASTP(nn.Module):
    # pooling_layers.py ASTP(in_dim, bottleneck_dim=128, global_context_att=False): channel-wise attention from
    # linear1 (Conv1d in_dim -> 128) -> tanh -> linear2 (Conv1d 128 -> in_dim), softmax over time, attentive
    # mean and sqrt(clamp(E[x^2] - mean^2, 1e-7)).
    def __init__(self, in_dim, bottleneck_dim=128):
        super().__init__()
        self.linear1 = nn.Conv1d(in_dim, bottleneck_dim, kernel_size=1)
        self.linear2 = nn.Conv1d(bottleneck_dim, in_dim, kernel_size=1)
        self.out_dim = 2 * in_dim

    def forward(self, x):
        alpha = torch.softmax(self.linear2(torch.tanh(self.linear1(x))), dim=2)
        mean = torch.sum(alpha * x, dim=2)
        var = torch.sum(alpha * (x ** 2), dim=2) - mean ** 2
        return torch.cat([mean, torch.sqrt(var.clamp(min=1e-7))], dim=1)


DEPTHS = {
    'ResNet18': (BasicBlock, [2, 2, 2, 2]), 'ResNet34': (BasicBlock, [3, 4, 6, 3]),
    'ResNet50': (Bottleneck, [3, 4, 6, 3]), 'ResNet101': (Bottleneck, [3, 4, 23, 3]),
    'ResNet152': (Bottleneck, [3, 8, 36, 3]), 'ResNet221': (Bottleneck, [6, 16, 48, 3]),
    'ResNet293': (Bottleneck, [10, 20, 64, 3]),
}


class ResNet(nn.Module):
    # wespeaker ResNet(block, num_blocks, m_channels=32, feat_dim, embed_dim, pooling_func, two_emb_layer=False):
    # returns embed_a = seg_1(pool(frame-level map)).
    def __init__(self, depth, feat_dim=80, embed_dim=256, pooling='TSTP', m_channels=32):
        super().__init__()
        block, num_blocks = DEPTHS[depth]
        self.in_planes = m_channels
        f = feat_dim
        for _ in range(3):
            f = (f + 1) // 2
        stats_dim = f * m_channels * 8 * block.expansion
        self.conv1 = nn.Conv2d(1, m_channels, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(m_channels)
        self.layer1 = self._make_layer(block, m_channels, num_blocks[0], stride=1)
        self.layer2 = self._make_layer(block, m_channels * 2, num_blocks[1], stride=2)
        self.layer3 = self._make_layer(block, m_channels * 4, num_blocks[2], stride=2)
        self.layer4 = self._make_layer(block, m_channels * 8, num_blocks[3], stride=2)
        if pooling == 'TSTP':
            self.pool, pool_out = None, 2 * stats_dim
        else:
            assert pooling in ('MQMHASTP', 'ASTP'), pooling
            self.pool = MQMHASTP(stats_dim) if pooling == 'MQMHASTP' else ASTP(stats_dim)
            pool_out = self.pool.out_dim
        self.seg_1 = nn.Linear(pool_out, embed_dim)

    def _make_layer(self, block, planes, num_blocks, stride):
        layers = []
        for s in [stride] + [1] * (num_blocks - 1):
            layers.append(block(self.in_planes, planes, s))
            self.in_planes = planes * block.expansion
        return nn.Sequential(*layers)

    def forward(self, x):                      # x (B, feat_dim, T)
        out = F.relu(self.bn1(self.conv1(x.unsqueeze(1))))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        if self.pool is None:
            return self.seg_1(tstp(out))
        return self.seg_1(self.pool(out.reshape(out.shape[0], out.shape[1] * out.shape[2], out.shape[3])))


class ResNetHardNeg(ResNet):
    # The HardNeg seed's copy (CJchanghwan/speaker_recognition_framework model.py ResNet, as its ECAPAModel builds
    # ResNet18/34(feat_dim=80, embed_dim=256, pooling_func='MQMHASTP')): pooling_func is ignored, pool = its
    # MHASTP(2560) (head_num 8, d_s 1, bottleneck 64: one weight per frame and head), seg_1 Linear(5120, 256), and
    # two_emb_layer=True: the embedding is seg_2(seg_bn_1(relu(seg_1(stats)))) (embed_b). 2560 is hard-coded there
    # (80 mel, BasicBlock); here it is the flattened map's size, the same at 80 mel. Its attn / itm_head (the ITM
    # loss head) play no part in the embedding and are left out.
    def __init__(self, depth, feat_dim=80, embed_dim=256):
        super().__init__(depth, feat_dim, embed_dim, 'TSTP')
        stats_dim = self.seg_1.in_features // 2
        del self.seg_1                         # registered again after pool, the seed's state_dict order
        self.pool = MHASTP(stats_dim, layer_num=2, head_num=8, d_s=1, bottleneck_dim=64)
        self.seg_1 = nn.Linear(2 * stats_dim, embed_dim)
        self.seg_bn_1 = nn.BatchNorm1d(embed_dim, affine=False)
        self.seg_2 = nn.Linear(embed_dim, embed_dim)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x.unsqueeze(1))))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        stats = self.pool(out.reshape(out.shape[0], out.shape[1] * out.shape[2], out.shape[3]))
        return self.seg_2(self.seg_bn_1(F.relu(self.seg_1(stats))))


# --- the cases: tiny n_mels (16 -> 2 rows after the strides) keeps the files and the C++ test small ----------
# Gradients: about one small parameter per stage. Left out: the last attention conv's bias (a constant over time
# that the softmax over time cancels, exact gradient 0).

def _grads(depth, pooling):
    names = ['conv1.weight', 'bn1.bias', 'layer1.0.bn1.weight', 'layer2.0.shortcut.1.weight', 'layer3.1.bn2.bias',
             'layer4.0.bn2.weight', 'layer4.1.bn1.bias']
    if depth != 'ResNet18':
        names += ['layer3.2.bn3.weight', 'layer4.2.bn1.weight']
    if pooling == 'MQMHASTP':
        names += ['pool.n_query.0.heads_att_trans.0.att_0.bias', 'pool.n_query.1.heads_att_trans.7.att_0.weight',
                  'pool.n_query.1.heads_att_trans.3.att_1.weight']
    return names + ['seg_1.bias']


def _case(depth, pooling, n_mels, n_out, input_shape):
    return dict(case='%s_%s' % (depth, pooling), model=depth,
                config=dict(n_mels=n_mels, nOut=n_out, encoder_type=pooling, C=0),
                build=lambda: ResNet(depth, feat_dim=n_mels, embed_dim=n_out, pooling=pooling),
                input_shape=input_shape, grad_params=_grads(depth, pooling))


def _hardneg_case(depth, n_mels, n_out, input_shape):
    grads = _grads(depth, 'TSTP') + ['pool.heads_att_trans.0.att_0.bias', 'pool.heads_att_trans.5.att_1.weight',
                                     'seg_2.bias']
    return dict(case='%s_HardNeg' % depth, model='%s_HardNeg' % depth,
                config=dict(n_mels=n_mels, nOut=n_out, encoder_type='MHASTP', C=0),
                build=lambda: ResNetHardNeg(depth, feat_dim=n_mels, embed_dim=n_out),
                input_shape=input_shape, grad_params=grads)


CASES = [
    _case('ResNet18', 'MQMHASTP', 16, 32, (2, 16, 24)),
    _hardneg_case('ResNet18', 16, 32, (4, 16, 24)),
    _case('ResNet50', 'TSTP', 16, 32, (4, 16, 40)),
]


def _check_against_anchor(wespeaker_dir):
    sys.path.insert(0, wespeaker_dir)
    from wespeaker.models import resnet
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(0)
    for depth in DEPTHS:
        for pooling in ('TSTP', 'ASTP', 'MQMHASTP'):
            mine = ResNet(depth, 80, 256, pooling)
            ref = getattr(resnet, depth)(feat_dim=80, embed_dim=256, pooling_func=pooling, two_emb_layer=False)
            a = [(n, tuple(t.shape)) for n, t in mine.state_dict().items()]
            b = [(n, tuple(t.shape)) for n, t in ref.state_dict().items()]
            assert a == b, (depth, pooling, set(a) ^ set(b))
            print('%-9s %-8s names and shapes equal (%d entries)' % (depth, pooling, len(a)))
    worst = 0.0
    wespeaker_cases = [c for c in CASES if not c['case'].endswith('_HardNeg')]
    for c in wespeaker_cases + [_case('ResNet34', 'MQMHASTP', 16, 32, (2, 16, 24)),
                                _case('ResNet101', 'ASTP', 16, 32, (2, 16, 24))]:
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
        ref = getattr(resnet, c['model'])(feat_dim=16, embed_dim=32, pooling_func=c['config']['encoder_type'],
                                          two_emb_layer=False)
        ref.load_state_dict(mine.state_dict(), strict=True)
        x = torch.randn(*c['input_shape'])
        for train in (False, True):
            mine.train(train)
            ref.train(train)
            d = float((mine(x) - ref(x.transpose(1, 2))[1]).abs().max())
            worst = max(worst, d)
            print('%-18s %-5s max|diff| %.3g' % (c['case'], 'train' if train else 'eval', d))
    assert worst < 1e-12, worst


def _check_against_hardneg(seed_dir):
    # The seed's ResNet18/34 (80 mel, embed 256) against ResNetHardNeg: its torchfbank is replaced by the identity
    # and it is fed exp(x) - 1e-6 with x of zero time mean, so its "+1e-6, log, minus the time mean" gives back x.
    sys.path.insert(0, seed_dir)
    import model as seed
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(0)
    worst = 0.0
    for depth in ('ResNet18', 'ResNet34'):
        mine = ResNetHardNeg(depth, 80, 256)
        ref = getattr(seed, depth)(feat_dim=80, embed_dim=256, pooling_func='MQMHASTP')
        ref.torchfbank = nn.Identity()
        extra = {n for n in ref.state_dict() if n.startswith(('attn.', 'itm_head.'))}
        a = [(n, tuple(t.shape)) for n, t in mine.state_dict().items()]
        b = [(n, tuple(t.shape)) for n, t in ref.state_dict().items() if n not in extra]
        assert a == b, (depth, set(a) ^ set(b))
        with torch.no_grad():
            for n, p in mine.named_parameters():
                if p.dim() == 1:
                    p.normal_(0.0, 0.2)
        missing = ref.load_state_dict(mine.state_dict(), strict=False)
        assert set(missing.missing_keys) <= extra and not missing.unexpected_keys, missing
        x = torch.randn(4, 80, 40)
        x = x - x.mean(-1, keepdim=True)
        for train in (False, True):
            mine.train(train)
            ref.train(train)
            d = float((mine(x) - ref(torch.exp(x) - 1e-6, aug=False)).abs().max())
            worst = max(worst, d)
            print('%-9s HardNeg %-5s names equal (%d), max|diff| %.3g' % (depth, 'train' if train else 'eval',
                                                                         len(a), d))
    assert worst < 1e-9, worst


if __name__ == '__main__':
    if len(sys.argv) not in (2, 3):
        sys.exit('usage: wespeaker_resnet.py WESPEAKER_DIR [HARDNEG_DIR]')
    _check_against_anchor(sys.argv[1])
    if len(sys.argv) == 3:
        _check_against_hardneg(sys.argv[2])
