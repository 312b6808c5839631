"""Trains the small GPT-2 that the app ships (public/models/sherlock-gpt2) on the Sherlock Holmes canon.

    node tools/train/tokenize.mjs                  # -> tools/train/out/{train,val}.bin, val.txt
    nice -n 5 /usr/bin/python3 tools/train/train.py --minutes 105 --out tools/train/out/run

Random windows of --context tokens are drawn from train.bin; val.bin (whole held-out stories) is
only ever evaluated. The learning rate warms up linearly, then decays on a cosine to --min-lr over the
run. With --steps the schedule is tied to that many steps (exactly reproducible); with --minutes it is
tied to wall-clock progress (the run ends at the deadline whatever else is using the CPU). Validation
loss is measured every --eval-minutes; the best model is kept in best.pt, the latest in last.pt, and
every measurement is appended to log.jsonl.
"""
import argparse
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from gpt2 import CompactVocab, GPT2Config, window_loss

HERE = os.path.dirname(os.path.abspath(__file__))


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=os.path.join(HERE, "out"))
    p.add_argument("--out", default=os.path.join(HERE, "out", "run"))
    p.add_argument("--n-layer", type=int, default=4)
    p.add_argument("--n-embd", type=int, default=256)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--context", type=int, default=256)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--min-lr", type=float, default=1e-4)
    p.add_argument("--warmup-steps", type=int, default=100)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--minutes", type=float, default=None, help="wall-clock budget (schedule follows time)")
    p.add_argument("--steps", type=int, default=None, help="fixed number of steps (schedule follows steps)")
    p.add_argument("--eval-minutes", type=float, default=10.0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--bf16", type=int, default=1, help="bfloat16 autocast for the training forward pass")
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--novel-weight", type=float, default=0.0,
                   help="share of the target moved to the pooled class where the target occurs once in train.bin")
    p.add_argument("--init", default=None,
                   help="start from this checkpoint's weights (same shape and data), e.g. a finished run's best.pt")
    p.add_argument("--ema", type=float, default=0.0, help="also evaluate an exponential moving average of the weights")
    return p.parse_args()


def main():
    args = parse_args()
    if args.init is not None:
        args.init = os.path.abspath(args.init)  # the log names it wherever the run was started from
    if (args.minutes is None) == (args.steps is None):
        raise SystemExit("give exactly one of --minutes or --steps")
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.out, exist_ok=True)

    train_gpt2_ids = np.fromfile(os.path.join(args.data, "train.bin"), dtype="<u2").astype(np.int64)
    val = np.fromfile(os.path.join(args.data, "val.bin"), dtype="<u2").astype(np.int64)
    vocab = CompactVocab(train_gpt2_ids)
    train = vocab.to_compact[train_gpt2_ids]
    # Good-Turing: a token seen once stands in for the tokens never seen. Moving part of its target to
    # the pooled class teaches the model how likely a novel token is; otherwise that class is never a
    # target and held-out text pays ~18 nats for each token the training text lacks.
    counts = np.bincount(train, minlength=vocab.size)
    novel_share = torch.from_numpy(np.where(counts == 1, args.novel_weight, 0.0)).float()
    cfg = GPT2Config(n_positions=args.context, n_embd=args.n_embd, n_layer=args.n_layer,
                     n_head=args.n_head, dropout=args.dropout)
    # The network is GPT-2 with cfg.vocab_size tokens; it trains with the compact vocabulary.
    model = vocab.model(cfg)
    if args.init is not None:
        # A second run from a finished one's weights: a fresh warmup and cosine (a warm restart).
        init = torch.load(args.init, map_location="cpu")
        shape = lambda c: {k: v for k, v in c.items() if k != "dropout"}
        if shape(init["config"]) != shape(cfg.to_dict()) or not np.array_equal(init["seen_ids"], vocab.seen):
            raise SystemExit(f"{args.init} was trained with another shape or vocabulary")
        model.load_state_dict(init["model"])
    n_params = sum(p.numel() for p in model.parameters())

    # Weight decay on matrices only (not on biases, LayerNorm gains, or positions).
    decay = [p for n, p in model.named_parameters() if p.dim() == 2 and n != "wpe.weight"]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() == 2 and n != "wpe.weight")]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95))

    log_path = os.path.join(args.out, "log.jsonl")
    log = open(log_path, "a")

    def record(**entry):
        log.write(json.dumps(entry) + "\n")
        log.flush()
        print(json.dumps(entry), flush=True)

    record(event="start", config=cfg.to_dict(), args=vars(args), params=n_params, compact_vocab=vocab.size, train_tokens=len(train), val_tokens=len(val), torch=torch.__version__,
           threads=torch.get_num_threads(), time=time.strftime("%Y-%m-%dT%H:%M:%S"))

    t0 = time.time()
    budget_s = args.minutes * 60 if args.minutes is not None else None

    def progress(step):
        return min(1.0, step / args.steps) if args.steps is not None else min(1.0, (time.time() - t0) / budget_s)

    def lr_at(step):
        if step < args.warmup_steps:
            return args.lr * (step + 1) / args.warmup_steps
        return args.min_lr + 0.5 * (args.lr - args.min_lr) * (1 + math.cos(math.pi * progress(step)))

    def evaluate(step, train_loss):
        t = time.time()
        val_loss, n = window_loss(model, val, args.context, vocab=vocab, autocast=bool(args.bf16))
        model.train()
        return dict(event="eval", step=step, tokens_seen=step * args.batch * args.context,
                    epochs=step * args.batch * args.context / len(train), train_loss=train_loss,
                    val_loss=val_loss, val_predicted_tokens=n, elapsed_s=round(time.time() - t0, 1),
                    eval_s=round(time.time() - t, 1))

    ema = {k: v.detach().clone() for k, v in model.state_dict().items()} if args.ema > 0 else None

    def evaluate_ema(step, train_loss):
        live = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(ema)
        entry = evaluate(step, train_loss)
        model.load_state_dict(live)
        return {**entry, "weights": "ema"}

    best = float("inf")
    step, last_eval, running = 0, time.time(), []
    model.train()
    while True:
        done = step >= args.steps if args.steps is not None else time.time() - t0 >= budget_s
        if done or time.time() - last_eval >= args.eval_minutes * 60:
            train_loss = float(np.mean(running)) if running else None
            running = []
            entry = evaluate(step, train_loss)
            record(**entry)
            state = {"config": cfg.to_dict(), "model": model.state_dict(), "step": step, "eval": entry,
                     "args": vars(args), "seen_ids": vocab.seen}
            torch.save(state, os.path.join(args.out, "last.pt"))
            candidates = [(entry, state)]
            if ema is not None and step > 0:
                ema_entry = evaluate_ema(step, train_loss)
                record(**ema_entry)
                candidates.append((ema_entry, {**state, "model": {k: v.clone() for k, v in ema.items()},
                                               "eval": ema_entry}))
            for entry, state in candidates:
                if entry["val_loss"] < best:
                    best = entry["val_loss"]
                    torch.save(state, os.path.join(args.out, "best.pt"))
            last_eval = time.time()
            if done:
                break

        starts = rng.integers(0, len(train) - args.context - 1, size=args.batch)
        batch = torch.from_numpy(np.stack([train[s:s + args.context + 1] for s in starts]))
        x, y = batch[:, :-1], batch[:, 1:]
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bool(args.bf16)):
            logits = model(x)
        logp = F.log_softmax(logits.float().view(-1, logits.shape[-1]), dim=-1)
        targets = y.reshape(-1)
        share = novel_share[targets]
        nll = -logp.gather(1, targets[:, None])[:, 0]
        loss = ((1 - share) * nll - share * logp[:, vocab.pooled]).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if ema is not None:
            with torch.no_grad():
                for k, v in model.state_dict().items():
                    ema[k].mul_(args.ema).add_(v.detach(), alpha=1 - args.ema)
        running.append(loss.item())
        step += 1
        if step % 20 == 0:
            elapsed = time.time() - t0
            record(event="train", step=step, loss=float(np.mean(running[-20:])), lr=lr_at(step),
                   tokens_per_s=round(step * args.batch * args.context / elapsed, 1),
                   elapsed_s=round(elapsed, 1))

    record(event="end", steps=step, tokens_seen=step * args.batch * args.context, best_val_loss=best,
           elapsed_s=round(time.time() - t0, 1), time=time.strftime("%Y-%m-%dT%H:%M:%S"))


if __name__ == "__main__":
    main()
