"""GPT-2 in PyTorch with exactly Hugging Face's GPT2LMHeadModel math, and its hub parameter names.

Pre-LN blocks, gelu_new (tanh approximation), learned positions, LM head tied to wte, biases
everywhere, layer_norm_epsilon 1e-5. Linear layers are stored like HF's Conv1D, weight [in, out],
so the state dict exports to the hub's `gpt2` layout without transposes.
"""
import math
from dataclasses import dataclass, asdict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class GPT2Config:
    vocab_size: int = 50257
    n_positions: int = 256
    n_embd: int = 256
    n_layer: int = 4
    n_head: int = 4
    layer_norm_epsilon: float = 1e-5
    dropout: float = 0.1

    def to_dict(self):
        return asdict(self)


def gelu_new(x):
    # GPT-2's tanh approximation of GELU.
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class Conv1D(nn.Module):
    """HF's Conv1D: a linear layer whose weight is stored [in, out]."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_in, n_out).normal_(std=0.02))
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x):
        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).view(*x.shape[:-1], -1)


class Attention(nn.Module):
    def __init__(self, cfg: GPT2Config):
        super().__init__()
        self.n_head = cfg.n_head
        self.c_attn = Conv1D(cfg.n_embd, 3 * cfg.n_embd)
        self.c_proj = Conv1D(cfg.n_embd, cfg.n_embd)
        self.attn_dropout = nn.Dropout(cfg.dropout)
        self.resid_dropout = nn.Dropout(cfg.dropout)
        mask = torch.tril(torch.ones(cfg.n_positions, cfg.n_positions, dtype=torch.bool))
        self.register_buffer("causal", mask.view(1, 1, cfg.n_positions, cfg.n_positions), persistent=False)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)                               # 3 x [B, T, C]
        heads = lambda t: t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # [B, H, T, D]
        q, k, v = heads(q), heads(k), heads(v)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(k.shape[-1])               # [B, H, T, T]
        att = att.masked_fill(~self.causal[:, :, :T, :T], torch.finfo(att.dtype).min)
        att = self.attn_dropout(F.softmax(att.float(), dim=-1).to(v.dtype))
        y = (att @ v).transpose(1, 2).reshape(B, T, C)                         # [B, T, C]
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, cfg: GPT2Config):
        super().__init__()
        self.c_fc = Conv1D(cfg.n_embd, 4 * cfg.n_embd)
        self.c_proj = Conv1D(4 * cfg.n_embd, cfg.n_embd)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(gelu_new(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, cfg: GPT2Config):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_epsilon)
        self.attn = Attention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_epsilon)
        self.mlp = MLP(cfg)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT2(nn.Module):
    def __init__(self, cfg: GPT2Config):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.wpe = nn.Embedding(cfg.n_positions, cfg.n_embd)
        self.drop = nn.Dropout(cfg.dropout)
        self.h = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_epsilon)
        # Only the compact training model has one (see CompactVocab); GPT-2 itself has no head bias.
        self.logit_bias = None
        nn.init.normal_(self.wte.weight, std=0.02)
        nn.init.normal_(self.wpe.weight, std=0.01)
        # GPT-2's scaled init of the residual projections.
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * cfg.n_layer))

    def forward(self, ids):
        """ids [B, T] -> logits [B, T, vocab] (head tied to wte)."""
        T = ids.shape[1]
        pos = torch.arange(T, device=ids.device)
        x = self.drop(self.wte(ids) + self.wpe(pos))                            # [B, T, C]
        for block in self.h:
            x = block(x)
        x = self.ln_f(x)                                                        # [B, T, C]
        logits = x @ self.wte.weight.t()                                        # [B, T, vocab]
        return logits if self.logit_bias is None else logits + self.logit_bias


class CompactVocab:
    """The training corpus uses only a part of GPT-2's 50,257 tokens (about 18,400 of them).

    Training computes the softmax over those tokens plus one pooled class standing for all the
    others, which share a single embedding row (`wte[-1]`) and get the logit h·w + log(n_unseen).
    That is exactly the full-vocabulary softmax of a model whose unseen tokens all have that row,
    which is what export writes, so losses measured here equal the exported model's; it makes
    the LM head, most of this small model's compute, about 2.7 times cheaper.
    """

    def __init__(self, train_ids, vocab_size=50257):
        self.seen = np.unique(train_ids)                        # sorted GPT-2 ids
        self.vocab_size = vocab_size
        self.n_unseen = vocab_size - len(self.seen)
        self.pooled = len(self.seen)                            # compact index of the pooled class
        self.to_compact = np.full(vocab_size, self.pooled, dtype=np.int64)
        self.to_compact[self.seen] = np.arange(len(self.seen))

    @property
    def size(self):
        return len(self.seen) + 1

    def logit_bias(self):
        bias = torch.zeros(self.size)
        bias[self.pooled] = math.log(self.n_unseen)
        return bias

    def model(self, cfg, with_bias=True):
        """The training network: GPT-2 of shape cfg over this vocabulary (the pooled class last).

        with_bias=False leaves out the pooled class's log(n_unseen), for callers that scale the
        logits before adding it (calibrate.py).
        """
        net = GPT2(GPT2Config(**{**cfg.to_dict(), "vocab_size": self.size}))
        net.logit_bias = self.logit_bias() if with_bias else None
        return net

    def expand(self, compact_wte):
        """[size, C] compact rows -> [vocab_size, C] GPT-2 rows (unseen tokens share the pooled row)."""
        full = compact_wte[self.pooled].expand(self.vocab_size, -1).clone()
        full[torch.from_numpy(self.seen)] = compact_wte[:-1]
        return full


def context_windows(ids, context):
    """Consecutive windows of `context` tokens (the last may be shorter), each with a token to predict."""
    for start in range(0, len(ids), context):
        window = np.asarray(ids[start:start + context], dtype=np.int64)
        if len(window) >= 2:
            yield window


def token_losses(model, ids, context, vocab=None, autocast=False):
    """Next-token cross-entropy (nats) of every predicted token, over non-overlapping windows.

    Same windowing as the app's `loss` CLI command: ids are cut into consecutive windows of
    `context` tokens (the last one may be shorter); within each window every token but the first is
    predicted from the ones before it. With `vocab` (a CompactVocab), `model` is the compact
    training model and the figures are the ones its full-vocabulary export would give.
    Returns (losses [N], targets [N]) as numpy arrays.
    """
    losses, targets = [], []
    model.eval()
    with torch.no_grad():
        for window in context_windows(ids, context):
            targets.append(window[1:])
            penalty = 0.0
            if vocab is not None:
                # p(unseen token) = p(pooled class) / n_unseen
                penalty = (vocab.to_compact[window[1:]] == vocab.pooled) * math.log(vocab.n_unseen)
                window = vocab.to_compact[window]
            x = torch.from_numpy(window).view(1, -1)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                logits = model(x[:, :-1])
            logits = logits.float()
            loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), x[0, 1:], reduction="none")
            losses.append(loss.double().numpy() + penalty)
    return np.concatenate(losses), np.concatenate(targets)


def window_loss(model, ids, context, vocab=None, autocast=False):
    """Mean of token_losses: (nats/token, number of predicted tokens)."""
    losses, _ = token_losses(model, ids, context, vocab, autocast)
    return float(losses.mean()), len(losses)
