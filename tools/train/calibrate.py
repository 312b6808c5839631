"""Temperature calibration: one scalar T that divides the logits, chosen on held-out text.

A model that has seen its training text for many epochs is overconfident on new text; dividing its
logits by T > 1 spreads the probability back out (Guo et al., 2017, "On Calibration of Modern Neural
Networks"). GPT-2 has no temperature parameter, but its head is `ln_f(x) @ wte.T`, so scaling ln_f's
gain and bias by 1/T divides every logit by T exactly: the exported model stays a plain GPT-2.
"""
import math

import torch
import torch.nn.functional as F

from gpt2 import context_windows


def compact_val_logits(compact_weights, cfg, vocab, val):
    """Logits over the compact vocabulary (+ pooled class bias) for every predicted validation token.

    Returns (logits [N, size] float32, targets [N] compact ids, penalty [N]): a token's loss is
    -log_softmax(logits / T + bias)[target] + penalty, penalty being log(n_unseen) for unseen targets.
    """
    compact = vocab.model(cfg, with_bias=False)
    compact.load_state_dict(compact_weights)
    compact.eval()
    logits, targets = [], []
    with torch.no_grad():
        for window in context_windows(val, cfg.n_positions):
            x = torch.from_numpy(vocab.to_compact[window]).view(1, -1)
            logits.append(compact(x[:, :-1])[0].float())
            targets.append(x[0, 1:])
    targets = torch.cat(targets)
    penalty = (targets == vocab.pooled).double() * math.log(vocab.n_unseen)
    return torch.cat(logits), targets, penalty


def token_losses_at(T, logits, targets, penalty, bias, rows=None):
    """Per-token losses (nats, float64) at temperature T, for the selected rows (all by default)."""
    idx = torch.arange(len(targets)) if rows is None else rows
    out = torch.empty(len(idx), dtype=torch.float64)
    for i in range(0, len(idx), 2048):
        part = idx[i:i + 2048]
        logp = F.log_softmax(logits[part] / T + bias, dim=-1)
        out[i:i + 2048] = -logp.gather(1, targets[part, None])[:, 0].double()
    return out + penalty[idx]


def best_temperature(logits, targets, penalty, bias, rows=None, lo=0.8, hi=1.6, tol=2e-3):
    """Golden-section search on 1/T (the loss is convex in 1/T: a log-sum-exp of linear functions)."""
    loss = lambda beta: float(token_losses_at(1 / beta, logits, targets, penalty, bias, rows).mean())
    g = (math.sqrt(5) - 1) / 2
    a, b = 1 / hi, 1 / lo
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = loss(c), loss(d)
    while b - a > tol:
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = loss(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = loss(d)
    return 1 / ((a + b) / 2)


def calibrate(compact_weights, cfg, vocab, val):
    """Chooses T on the validation tokens, and checks the choice does not flatter the figure.

    Cross-fit: each half of the validation text is scored at the T chosen on the other half, so no
    token is scored with a temperature fitted to it.
    """
    logits, targets, penalty = compact_val_logits(compact_weights, cfg, vocab, val)
    bias = vocab.logit_bias()
    n = len(targets)
    halves = [torch.arange(0, n // 2), torch.arange(n // 2, n)]
    T = round(best_temperature(logits, targets, penalty, bias), 3)
    T_halves = [round(best_temperature(logits, targets, penalty, bias, rows), 3) for rows in halves]
    cross = torch.cat([token_losses_at(T_halves[1 - i], logits, targets, penalty, bias, rows)
                       for i, rows in enumerate(halves)])
    return {
        "temperature": T,
        "temperature_by_half": T_halves,
        "val_loss_at_1": float(token_losses_at(1.0, logits, targets, penalty, bias).mean()),
        "val_loss_at_T": float(token_losses_at(T, logits, targets, penalty, bias).mean()),
        "val_loss_cross_fit": float(cross.mean()),
        "tokens": n,
        "note": "float32 forward of the unrounded weights; T divides the logits (ln_f gain and bias scaled by 1/T)",
    }


def fold_into_ln_f(weights, T):
    """The same weights with every logit divided by T."""
    return {**weights, "ln_f.weight": weights["ln_f.weight"] / T, "ln_f.bias": weights["ln_f.bias"] / T}
