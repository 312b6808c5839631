"""Exports a training checkpoint as a Hugging Face GPT-2 checkpoint (hub `gpt2` layout, F16).

    /usr/bin/python3 tools/train/export.py [--checkpoint tools/train/out/run/best.pt]

Writes public/models/sherlock-gpt2/{config.json, model.safetensors, loss-curve.png},
tests/fixtures/sherlock-gpt2-logits.json (float32 logits of the F16-rounded weights, the reference
the engine test compares against), and tools/train/out/export.json (measurements for the model card:
validation loss of the exported weights, samples). The model card itself is written by card.py.
"""
import argparse
import json
import os
import struct
import subprocess
import time

import numpy as np
import torch
import torch.nn.functional as F

from calibrate import calibrate, fold_into_ln_f
from gpt2 import GPT2, CompactVocab, GPT2Config, token_losses, window_loss
from runlog import stages

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
FIXTURE_TEXT = '"You have been in Afghanistan, I perceive." Watson you are'
SAMPLE_PROMPT = "Watson you are"


def encode(text):
    """GPT-2 BPE ids from the same tokenizer the app uses (gpt-tokenizer, r50k_base)."""
    script = "import('gpt-tokenizer/encoding/r50k_base').then(m => console.log(JSON.stringify(m.encode(process.argv[1]))))"
    out = subprocess.run(["node", "-e", script, text], cwd=REPO, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def decode(ids):
    script = "import('gpt-tokenizer/encoding/r50k_base').then(m => process.stdout.write(JSON.stringify(JSON.parse(process.argv[1]).map(s => m.decode(s)))))"
    out = subprocess.run(["node", "-e", script, json.dumps(ids)], cwd=REPO, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def hf_config(cfg: GPT2Config, dropout: float):
    """A complete transformers GPT2Config, as the hub's gpt2/config.json spells it (dropout: training's)."""
    return {
        "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": dropout,
        "bos_token_id": 50256,
        "embd_pdrop": dropout,
        "eos_token_id": 50256,
        "initializer_range": 0.02,
        "layer_norm_epsilon": cfg.layer_norm_epsilon,
        "model_type": "gpt2",
        "n_ctx": cfg.n_positions,
        "n_embd": cfg.n_embd,
        "n_head": cfg.n_head,
        "n_inner": None,
        "n_layer": cfg.n_layer,
        "n_positions": cfg.n_positions,
        "reorder_and_upcast_attn": False,
        "resid_pdrop": dropout,
        "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": True,
        "summary_activation": None,
        "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True,
        "summary_type": "cls_index",
        "summary_use_proj": True,
        "task_specific_params": {"text-generation": {"do_sample": True, "max_length": 50}},
        "tie_word_embeddings": True,
        "torch_dtype": "float16",
        "use_cache": True,
        "vocab_size": cfg.vocab_size,
    }


def write_safetensors(path, tensors):
    """safetensors: u64 LE header length, JSON header (offsets relative to the data start), data."""
    header, chunks, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, array in tensors.items():
        data = np.ascontiguousarray(array, dtype="<f2").tobytes()
        header[name] = {"dtype": "F16", "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * (-len(header_bytes) % 8)  # keep the data 8-byte aligned, as the reference writer does
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header_bytes)))
        f.write(header_bytes)
        for chunk in chunks:
            f.write(chunk)


def read_safetensors(path):
    """Independent reader, to check the file we wrote round-trips."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__")
    data = raw[8 + n:]
    return {name: np.frombuffer(data[e["data_offsets"][0]:e["data_offsets"][1]], dtype="<f2").reshape(e["shape"])
            for name, e in header.items()}


def sample(model, prompt_ids, *, top_k, top_p, seed, num, max_new_tokens):
    """Hugging Face's sampling order: top-k filter, then top-p (nucleus) filter, then multinomial."""
    torch.manual_seed(seed)
    ids = torch.tensor([prompt_ids] * num)
    with torch.no_grad():
        for _ in range(max_new_tokens):
            logits = model(ids[:, -model.cfg.n_positions:])[:, -1, :].float()
            kth = torch.topk(logits, top_k).values[:, -1, None]
            logits = logits.masked_fill(logits < kth, float("-inf"))
            sorted_logits, order = torch.sort(logits, descending=False)
            cumulative = sorted_logits.softmax(-1).cumsum(-1)
            remove_sorted = cumulative <= (1 - top_p)
            remove_sorted[:, -1] = False  # always keep the most likely token
            remove = remove_sorted.scatter(1, order, remove_sorted)
            logits = logits.masked_fill(remove, float("-inf"))
            nxt = torch.multinomial(logits.softmax(-1), 1)
            ids = torch.cat([ids, nxt], dim=1)
    return [row[len(prompt_ids):].tolist() for row in ids]


def val_token_losses(model, vocab, val, cfg):
    """Per-token validation losses of the exported (F16-rounded) weights, float32.

    With a compact vocabulary this runs through the compact head: exactly the full model's figures
    (its unseen-token rows are all the pooled row), with a head 2.7 times smaller.
    """
    if vocab is None:
        return token_losses(model, val, cfg.n_positions)
    compact = vocab.model(cfg)
    weights = model.state_dict()
    unseen_example = int(np.setdiff1d(np.arange(cfg.vocab_size), vocab.seen)[0])
    rows = torch.cat([weights["wte.weight"][torch.from_numpy(vocab.seen)], weights["wte.weight"][unseen_example][None]])
    compact.load_state_dict({**weights, "wte.weight": rows})
    return token_losses(compact, val, cfg.n_positions, vocab=vocab)


def loss_by_train_frequency(losses, targets, train_ids, vocab_size):
    """How much of the validation loss comes from tokens that are rare (or absent) in training."""
    counts = np.bincount(train_ids, minlength=vocab_size)[targets]
    rows = []
    for label, lo, hi in [("0 (never)", 0, 0), ("1-10", 1, 10), ("11-100", 11, 100), ("over 100", 101, None)]:
        sel = (counts >= lo) & (counts <= (hi if hi is not None else counts.max()))
        rows.append({"train_count": label, "tokens": int(sel.sum()),
                     "mean_loss": float(losses[sel].mean()) if sel.any() else None,
                     "share_of_val_loss": float(losses[sel].sum() / len(losses))})
    return rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--checkpoint", default=os.path.join(HERE, "out", "run", "best.pt"))
    p.add_argument("--model-dir", default=os.path.join(REPO, "public", "models", "sherlock-gpt2"))
    p.add_argument("--fixture", default=os.path.join(REPO, "tests", "fixtures", "sherlock-gpt2-logits.json"))
    p.add_argument("--data", default=os.path.join(HERE, "out"))
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--calibrate", action="store_true",
                   help="divide the logits by the temperature that minimises validation loss (calibrate.py)")
    p.add_argument("--full-eval", action="store_true", help="validation loss through the full 50,257-token head (slower, same figure)")
    args = p.parse_args()
    torch.set_num_threads(2)

    state = torch.load(args.checkpoint, map_location="cpu")
    cfg = GPT2Config(**{**state["config"], "dropout": 0.0})
    weights = dict(state["model"])
    vocab, calibration = None, None
    if args.calibrate and "seen_ids" not in state:
        raise SystemExit("--calibrate needs a checkpoint trained with the compact vocabulary")
    if "seen_ids" in state:  # trained with the compact vocabulary: unseen tokens share the pooled row
        train_ids = np.fromfile(os.path.join(args.data, "train.bin"), dtype="<u2").astype(np.int64)
        vocab = CompactVocab(train_ids, cfg.vocab_size)
        assert np.array_equal(vocab.seen, state["seen_ids"]), "train.bin is not the one this checkpoint was trained on"
        if args.calibrate:
            val_ids = np.fromfile(os.path.join(args.data, "val.bin"), dtype="<u2").astype(np.int64)
            calibration = calibrate(weights, cfg, vocab, val_ids)
            print(json.dumps({"calibration": calibration}), flush=True)
            weights = fold_into_ln_f(weights, calibration["temperature"])
        weights["wte.weight"] = vocab.expand(weights["wte.weight"])
    model = GPT2(cfg)
    model.load_state_dict(weights)
    model.eval()

    # Round every weight to F16 once; everything measured below is the shipped model.
    tensors = {name: t.detach().numpy().astype(np.float16) for name, t in model.state_dict().items()}
    model.load_state_dict({name: torch.from_numpy(a.astype(np.float32)) for name, a in tensors.items()})

    os.makedirs(args.model_dir, exist_ok=True)
    st_path = os.path.join(args.model_dir, "model.safetensors")
    write_safetensors(st_path, tensors)
    back = read_safetensors(st_path)
    assert back.keys() == tensors.keys() and all(np.array_equal(back[k], tensors[k]) for k in tensors)
    with open(os.path.join(args.model_dir, "config.json"), "w") as f:
        json.dump(hf_config(cfg, state["config"]["dropout"]), f, indent=2)
        f.write("\n")

    # Reference logits for tests/unit/embedded-model.test.ts: every position, a fixed spread of vocab
    # ids plus each position's top 20, and the full-row max |logit| and logsumexp.
    fixture_ids = encode(FIXTURE_TEXT)
    with torch.no_grad():
        logits = model(torch.tensor([fixture_ids]))[0].double()  # [T, vocab], float32 math, F16 weights
    probe_ids = list(range(0, cfg.vocab_size, 251)) + [50256]
    top = torch.topk(logits, 20, dim=-1).indices
    fixture = {
        "model": "public/models/sherlock-gpt2",
        "note": "float32 forward of the F16 weights in tools/train/gpt2.py (HF GPT-2 math), written by tools/train/export.py",
        "text": FIXTURE_TEXT,
        "input_ids": fixture_ids,
        "probe_ids": probe_ids,
        "positions": [
            {
                "probe_logits": [round(float(logits[t, i]), 6) for i in probe_ids],
                "top_ids": top[t].tolist(),
                "top_logits": [round(float(logits[t, i]), 6) for i in top[t].tolist()],
                "max_abs_logit": round(float(logits[t].abs().max()), 6),
                "logsumexp": round(float(torch.logsumexp(logits[t], dim=-1)), 6),
            }
            for t in range(len(fixture_ids))
        ],
    }
    # A short loss check: the first two validation windows, for the engine's `loss` windowing.
    val_head = np.fromfile(os.path.join(args.data, "val.bin"), dtype="<u2").astype(np.int64)[:2 * cfg.n_positions].tolist()
    head_loss, head_tokens = window_loss(model, val_head, cfg.n_positions)
    fixture["loss_check"] = {"text": "first 512 tokens of the validation stories", "input_ids": val_head,
                             "context": cfg.n_positions, "loss": head_loss, "tokens": head_tokens}
    os.makedirs(os.path.dirname(args.fixture), exist_ok=True)
    with open(args.fixture, "w") as f:
        json.dump(fixture, f)
        f.write("\n")

    val = np.fromfile(os.path.join(args.data, "val.bin"), dtype="<u2").astype(np.int64).tolist()
    t = time.time()
    losses, targets = token_losses(model, val, cfg.n_positions) if args.full_eval else val_token_losses(model, vocab, val, cfg)
    val_loss, val_tokens = float(losses.mean()), len(losses)
    train_ids = np.fromfile(os.path.join(args.data, "train.bin"), dtype="<u2").astype(np.int64)
    prompt_ids = encode(SAMPLE_PROMPT)
    samples = sample(model, prompt_ids, top_k=50, top_p=0.95, seed=args.seed, num=3, max_new_tokens=60)
    report = {
        "checkpoint": os.path.relpath(args.checkpoint, REPO),
        "checkpoint_step": state["step"],
        "checkpoint_eval": state["eval"],
        "trained_vocab": None if vocab is None else {"seen_tokens": len(vocab.seen), "unseen_tokens": vocab.n_unseen},
        "exported_val_loss": val_loss,
        "exported_val_predicted_tokens": val_tokens,
        "val_eval_s": round(time.time() - t, 1),
        "calibration": calibration,
        "val_loss_by_train_frequency": loss_by_train_frequency(losses, targets, train_ids, cfg.vocab_size),
        "safetensors_bytes": os.path.getsize(st_path),
        "params": sum(a.size for a in tensors.values()),
        "samples": {"prompt": SAMPLE_PROMPT, "top_k": 50, "top_p": 0.95, "seed": args.seed,
                    "max_new_tokens": 60, "generator": "torch (tools/train/export.py, HF top-k then top-p order)",
                    "texts": [SAMPLE_PROMPT + s for s in decode(samples)]},
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    with open(os.path.join(args.data, "export.json"), "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    plot_losses(os.path.dirname(args.checkpoint), os.path.join(args.model_dir, "loss-curve.png"), cfg)
    print(json.dumps(report, indent=2))


def plot_losses(run_dir, png_path, cfg):
    """Train and validation curves from the very start, through every --init restart."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    ys = []
    for i, stage in enumerate(stages(run_dir)):
        entries, before = stage["log"], stage["tokens_before"] / 1e6
        batch_tokens = entries[0]["args"]["batch"] * entries[0]["args"]["context"]
        train = [(before + e["step"] * batch_tokens / 1e6, e["loss"]) for e in entries if e["event"] == "train"]
        val = [(before + e["tokens_seen"] / 1e6, e["val_loss"]) for e in entries if e["event"] == "eval" and "weights" not in e]
        ema = [(before + e["tokens_seen"] / 1e6, e["val_loss"]) for e in entries if e["event"] == "eval" and e.get("weights") == "ema"]
        first = i == 0
        ax.plot(*zip(*train), label="train (mean of 20 steps, dropout on)" if first else None, color="tab:blue", linewidth=1)
        ax.plot(*zip(*val), "o-", label="validation (held-out stories)" if first else None, color="tab:orange")
        if ema:
            ax.plot(*zip(*ema), "s--", label="validation, moving average of the weights" if first else None,
                    color="tab:green", markersize=4)
        if not first:
            ax.axvline(before, color="gray", linestyle=":", linewidth=1)
            ax.annotate("restart (--init)", (before, 0), xycoords=("data", "axes fraction"), xytext=(3, 4),
                        textcoords="offset points", fontsize=8, color="gray")
        ys += [v for _, v in train + val]
    ax.set_xlabel("training tokens seen (millions)")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.set_ylim(min(ys) - 0.2, min(6.5, max(ys)))
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(f"sherlock-gpt2: GPT-2 ({cfg.n_layer} layers, {cfg.n_embd} wide) on the Sherlock Holmes canon")
    fig.tight_layout()
    fig.savefig(png_path)


if __name__ == "__main__":
    main()
