"""Writes the model card (public/models/sherlock-gpt2/README.md) and docs/model.md from the measurements.

    /usr/bin/python3 tools/train/card.py

Reads tools/train/out/: split.json (tokenize.mjs), run/log.jsonl (train.py), export.json (export.py),
and, when present, engine-loss.json (the app's `loss` command, --json) and cli-generate.json (the
app's `generate` command, --json). Every number in the card comes from those files.
"""
import json
import os
import platform

from runlog import stages

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(HERE, "out")

ENGINE_LOSS_CMD = ("npm run cli --silent -- loss --model public/models/sherlock-gpt2 "
                   "--file tools/train/out/val.txt --context 256 --backend wasm --json")
GENERATE_CMD = ('npm run cli -- generate --model public/models/sherlock-gpt2 --prompt "Watson you are" '
                "--top-k 50 --top-p 0.95 --seed 42 --num-return-sequences 3 --max-new-tokens 60")


def load(name, default=None):
    path = os.path.join(OUT, name)
    if not os.path.exists(path):
        return default
    with open(path) as f:
        return json.load(f)


def measured_on_current_model(name):
    """A measurement of the app's engine, only if it was taken after the current export."""
    weights = os.path.join(REPO, "public", "models", "sherlock-gpt2", "model.safetensors")
    path = os.path.join(OUT, name)
    if os.path.exists(path) and os.path.getmtime(path) > os.path.getmtime(weights):
        return load(name)
    print(f"{name}: missing or older than model.safetensors, left out of the card")
    return None


TRAIN_DEFAULTS = {"n_layer": 4, "n_embd": 256, "n_head": 4, "dropout": 0.1, "lr": 1e-3, "min_lr": 1e-4, "seed": 1337,
                  "novel_weight": 0.0, "ema": 0.0}


def train_flags(stage, previous, final):
    """The train.py flags, run from the repository root, that reproduce a stage (those that differ from the defaults)."""
    args = stage["log"][0]["args"]
    flags = [f"--minutes {args['minutes']:g}", f"--eval-minutes {args['eval_minutes']:g}"]
    flags += [f"--{k.replace('_', '-')} {args[k]:g}" for k in TRAIN_DEFAULTS if k in args and args[k] != TRAIN_DEFAULTS[k]]
    if previous is not None:
        flags.append(f"--init {os.path.relpath(os.path.join(previous['dir'], 'best.pt'), REPO)}")
    if not final:
        flags.append(f"--out {os.path.relpath(stage['dir'], REPO)}")
    return " ".join(flags)


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def quote(text):
    return "\n".join("> " + line if line else ">" for line in text.split("\n"))


def main():
    split, export = load("split.json"), load("export.json")
    engine, cli_generate = measured_on_current_model("engine-loss.json"), measured_on_current_model("cli-generate.json")
    runs = stages(os.path.join(OUT, "run"))
    last = runs[-1]
    log = last["log"]
    start = log[0]
    cfg, args, first_args = start["config"], start["args"], runs[0]["log"][0]["args"]
    end = next((e for e in log if e["event"] == "end"), None)
    train_tokens = start["train_tokens"]

    def from_the_start(e, stage):
        """An eval entry counted from the first run's first step."""
        tokens = stage["tokens_before"] + e["tokens_seen"]
        return {**e, "step": stage["steps_before"] + e["step"], "tokens_seen": tokens,
                "epochs": tokens / train_tokens, "elapsed_s": stage["seconds_before"] + e["elapsed_s"]}

    evals, ema_by_step = [], {}
    for stage in runs:
        for e in stage["log"]:
            if e["event"] == "eval":
                e = from_the_start(e, stage)
                if e.get("weights") == "ema":
                    ema_by_step[e["step"]] = e["val_loss"]
                else:
                    evals.append(e)
    ck = from_the_start(export["checkpoint_eval"], last)
    hours = ck["elapsed_s"] / 3600
    calibration = export.get("calibration")
    torch_loss = export["exported_val_loss"]
    size_mb = export["safetensors_bytes"] / 1e6
    tv = export.get("trained_vocab")

    if cli_generate:
        prompt = export["samples"]["prompt"]
        samples = [s["text"] if s["text"].startswith(prompt) else prompt + s["text"] for s in cli_generate["sequences"]]
        generator = f"the app's own CLI (`--json`): `{GENERATE_CMD}`"
    else:
        samples, generator = export["samples"]["texts"], ("torch, `tools/train/export.py` (Hugging Face's order: "
                                                          "top-k filter, then top-p, then a multinomial draw; "
                                                          "torch.manual_seed(42)), on the exported F16 weights")

    def eval_row(e):
        train_loss = "" if e["train_loss"] is None else f"{e['train_loss']:.3f}"
        ema = f" {ema_by_step[e['step']]:.3f} |" if ema_by_step else ""
        return (f"| {e['step']} | {e['tokens_seen'] / 1e6:.2f} M | {e['epochs']:.2f} | "
                f"{train_loss} | {e['val_loss']:.3f} |{ema}")

    eval_rows = "\n".join(eval_row(e) for e in evals)

    novel = first_args.get("novel_weight", 0.0)
    novel_text = "" if not novel else f"""

A validation story brings words the training text never has (about 1.2% of its tokens here). The
pooled class stands for them, but it is never a target in the training text, so a model learns to
give it almost nothing. Following Good–Turing (a token seen once is the best stand-in for one never
seen), wherever the target occurs only once in the training text, {novel:g} of that target is moved to
the pooled class (`--novel-weight {novel:g}`): the model learns how likely a new word is in each context."""
    def stopped(stage):
        """A run ended by hand (no "end" entry) before its budget ran out."""
        if any(e["event"] == "end" for e in stage["log"]):
            return ""
        stage_evals = [e for e in stage["log"] if e["event"] == "eval"]
        best = min(stage_evals, key=lambda e: e["val_loss"])
        after = sum(1 for e in stage_evals if e["step"] > best["step"] and e.get("weights") == best.get("weights"))
        return (f" It was stopped by hand after {stage_evals[-1]['elapsed_s'] / 60:.0f} of its {stage['log'][0]['args']['minutes']:g} minutes:"
                f" the best validation loss came {after} evaluations before, and the training loss kept falling"
                " while the validation loss did not (the table); the checkpoint is the best one it saved.")

    restarts = "".join(f"""

Then a second run started from those weights (`--init`, the best checkpoint above): a warm restart with
a fresh {r['log'][0]['args']['warmup_steps']}-step warm-up to lr {r['log'][0]['args']['lr']:g}, cosine decay to {r['log'][0]['args']['min_lr']:g} over
{r['log'][0]['args']['minutes']:g} minutes, dropout {r['log'][0]['args']['dropout']:g}, seed {r['log'][0]['args']['seed']}, moving-average decay {r['log'][0]['args'].get('ema', 0):g}; it began at step
{r['steps_before']} ({r['tokens_before']:,} tokens), and the tables count from the first run's first step.{stopped(r)}""" for r in runs[1:])
    ema_decay = first_args.get("ema", 0.0)
    ema_text = "" if not ema_decay else f"""

An exponential moving average of the weights (decay {ema_decay:g} per step, `--ema`) is evaluated beside
the live weights; the exported checkpoint is whichever of the two scored best
({"the average" if ck.get("weights") == "ema" else "the live weights"} here)."""

    engine_line = (f"| the app's engine (tfjs `{engine.get('backend', 'wasm')}`), `loss` command | "
                   f"**{engine['loss']:.4f}** | {engine['tokens']} |" if engine else "")
    agreement = (f"The two figures differ by {abs(engine['loss'] - torch_loss):.4f} nats/token."
                 if engine else "")

    def breakdown_row(r):
        mean = "" if r["mean_loss"] is None else f"{r['mean_loss']:.2f}"
        return f"| {r['train_count']} | {r['tokens']} | {mean} | {r['share_of_val_loss']:.3f} |"

    rows = export.get("val_loss_by_train_frequency")
    breakdown = "" if not rows else (
        "\nWhere the loss comes from, by how often each predicted token occurs in the training text (new\n"
        "stories bring new names and words, which no model trained on the rest can predict well):\n\n"
        "| occurrences in training | validation tokens | mean loss | share of the figure above |\n"
        "|---|---:|---:|---:|\n" + "\n".join(breakdown_row(r) for r in rows) + "\n")

    calibration_text = "" if not calibration else f"""
### Temperature calibration

The exported weights divide every logit by **T = {calibration['temperature']:.3f}**: `ln_f`'s gain and bias are
scaled by 1/T, which GPT-2's tied head turns into logits / T exactly, so the files are a plain GPT-2
(`tools/train/calibrate.py`, `export.py --calibrate`). After {ck['epochs']:.0f} epochs of the same text the model is
overconfident on new text (training loss {ck['train_loss']:.2f}, held-out {calibration['val_loss_at_1']:.2f}); T > 1 spreads the
probability back out. T was chosen on the validation tokens, as the checkpoint was. So that this
choice does not flatter the figure, each half of the validation text was also scored at the T
chosen on the other half alone (T = {calibration['temperature_by_half'][0]:.3f} and {calibration['temperature_by_half'][1]:.3f}):

| validation loss (float32, unrounded weights) | nats/token |
|---|---:|
| logits as trained (T = 1) | {calibration['val_loss_at_1']:.4f} |
| T chosen on all {calibration['tokens']} validation tokens | {calibration['val_loss_at_T']:.4f} |
| each half at the T of the other half (cross-fit) | {calibration['val_loss_cross_fit']:.4f} |
"""

    card = f"""---
language: en
library_name: transformers
pipeline_tag: text-generation
tags: [gpt2, sherlock-holmes, tiny]
---

# sherlock-gpt2

A small GPT-2 trained from scratch on the Sherlock Holmes canon. It is the model this app ships and
opens with, so the page works offline the moment it loads. Ask it `Watson you are` and it answers in
(an approximation of) Conan Doyle's voice; it is far smaller and weaker than OpenAI's GPT-2.

## Model

| | |
|---|---|
| Architecture | GPT-2 (`GPT2LMHeadModel`): pre-LayerNorm blocks, `gelu_new`, learned positions, LM head tied to `wte` |
| Layers / width / heads | {cfg['n_layer']} / {cfg['n_embd']} / {cfg['n_head']} (MLP {4 * cfg['n_embd']}) |
| Context | {cfg['n_positions']} tokens (`n_positions`, `n_ctx`) |
| Vocabulary | GPT-2's byte-level BPE, 50,257 tokens (`r50k_base`); bos/eos 50256 |
| Parameters | {export['params'] / 1e6:.2f} M (of which {cfg['vocab_size'] * cfg['n_embd'] / 1e6:.2f} M token embeddings) |
| File | `model.safetensors`, F16, {size_mb:.1f} MB, hub `gpt2` tensor names (`wte.weight`, `h.0.attn.c_attn.weight` stored [in, out], ...), no `lm_head` (tied) |

`config.json` is a complete transformers `GPT2Config`; the folder loads with
`GPT2LMHeadModel.from_pretrained(dir)` and the hub's `gpt2` tokenizer, and in this app with
`GPT2.fromFiles`.

## Data

`sherlock-holmes-canon.txt` (the four novels and the short stories, public domain; the corpus file
withholds two stories for other evaluations), tokenized with
`gpt-tokenizer` (`r50k_base`) by `tools/train/tokenize.mjs`.

- Training: everything before *The Adventure of the Creeping Man*: {split['trainTokens']:,} tokens.
- Validation: {split['validation']}: {split['valTokens']:,} tokens ({100 * split['valFraction']:.1f}%), a
  contiguous held-out slice the optimizer never saw. `node tools/train/tokenize.mjs` rewrites it to
  `tools/train/out/val.txt`.

## Training

`tools/train/train.py`, PyTorch {start['torch']} on CPU: AdamW (lr {first_args['lr']:g}, betas 0.9/0.95, weight decay
{first_args['weight_decay']:g} on matrices), {first_args['warmup_steps']} warm-up steps then cosine decay to {first_args['min_lr']:g} over a
{first_args['minutes']:g}-minute wall-clock budget, batch {first_args['batch']} x {first_args['context']} tokens, dropout {first_args['dropout']:g},
bfloat16 autocast, gradient clipping 1.0, seed {first_args['seed']}.{novel_text}{ema_text}{restarts}
{"" if tv is None else f'''
The training text uses {tv['seen_tokens']:,} of the 50,257 tokens. The softmax was computed over those
plus one pooled class for the {tv['unseen_tokens']:,} others, which share one embedding row (logit h·w +
log {tv['unseen_tokens']:,}). That is exactly the full 50,257-way softmax of the exported model, where every
unseen token has that row; it made the head, most of the compute at this size, 2.7 times cheaper.
'''}
- Exported checkpoint: step {ck['step']}, **{ck['tokens_seen']:,} tokens seen** ({ck['epochs']:.1f} epochs),
  after {hours * 60:.0f} minutes of training{'' if end is None else f" (the {'last ' if len(runs) > 1 else ''}run: {end['steps']} steps, {end['tokens_seen']:,} tokens, {end['elapsed_s'] / 60:.0f} minutes)"}.
- Machine: {cpu_name()} with AVX-512 BF16, 2 cores (the trainer had priority over the team's builds
  and tests, which ran beside it), no GPU.

| step | tokens seen | epochs | train loss (dropout on) | validation loss (bf16) |{" validation, EMA weights |" if ema_by_step else ""}
|---:|---:|---:|---:|---:|{"---:|" if ema_by_step else ""}
{eval_rows}

![training and validation loss](loss-curve.png)

## Validation loss

Mean next-token cross-entropy in nats/token on the held-out stories, over non-overlapping
256-token windows (inside each window every token but the first is predicted from the ones before it),
of the exported F16 weights in float32:

| measured by | loss (nats/token) | predicted tokens |
|---|---:|---:|
| PyTorch, `tools/train/export.py` (float32 math on the F16 weights) | **{torch_loss:.4f}** | {export['exported_val_predicted_tokens']} |
{engine_line}

Perplexity {2.718281828 ** torch_loss:.1f}. {agreement}
{breakdown}{calibration_text}

```sh
node tools/train/tokenize.mjs                       # writes tools/train/out/val.txt
{ENGINE_LOSS_CMD}
```

## Samples

Prompt `Watson you are`, the notebook's settings: top-k 50, top-p 0.95, temperature 1, seed 42,
3 sequences of 60 new tokens. Generated by {generator}.

{chr(10).join(quote(s) + chr(10) for s in samples)}
## Reproduce

```sh
node tools/train/tokenize.mjs
{chr(10).join(f"/usr/bin/python3 tools/train/train.py {train_flags(r, runs[i - 1] if i else None, r is last)}" for i, r in enumerate(runs))}
tools/train/finish.sh   # export.py (config.json, model.safetensors, loss-curve.png, test fixture),
                        # the engine's loss and samples, card.py (this card), the model's test
```

A wall-clock budget makes the number of steps depend on the machine; `train.py --steps N` ties the
schedule to a step count instead, for an exactly repeatable run.

## Limits

Trained on 0.8 M tokens of one author: it writes Victorian detective prose with plausible names and
dialogue, loses the thread within a few sentences, and knows nothing else. Not for any use where the
content matters.
"""
    with open(os.path.join(REPO, "public", "models", "sherlock-gpt2", "README.md"), "w") as f:
        f.write(card)

    doc = f"""# The built-in model: sherlock-gpt2

`public/models/sherlock-gpt2/` holds a small GPT-2 ({cfg['n_layer']} layers, {cfg['n_embd']} wide, {cfg['n_head']} heads,
context {cfg['n_positions']}, GPT-2's 50,257-token vocabulary; {size_mb:.1f} MB of F16 safetensors in the hub's `gpt2`
layout) trained from scratch on the Sherlock Holmes canon. The app and the CLI open it when no
other model is chosen, so everything works offline.

- Validation loss on four held-out stories: **{torch_loss:.3f} nats/token** (PyTorch){f", **{engine['loss']:.3f}** (this app's engine, `loss` command)" if engine else ""}{f"; logits divided by a calibrated temperature T = {calibration['temperature']:.3f} (cross-fit {calibration['val_loss_cross_fit']:.3f}, {calibration['val_loss_at_1']:.3f} at T = 1)" if calibration else ""}.
- {ck['tokens_seen'] / 1e6:.1f} M training tokens seen ({ck['epochs']:.1f} epochs) in {hours * 60:.0f} minutes on 2 shared CPU cores.
- Model card with samples for "Watson you are" and the loss curves: `public/models/sherlock-gpt2/README.md`.
- Training tool: `tools/train/` (`tokenize.mjs`, `train.py`, `export.py`, `calibrate.py`, `card.py`).
- `npm run cli -- loss --model DIR --file TEXT --context 256 --backend wasm` measures any checkpoint's
  loss on a text with the app's engine.
- `tests/unit/embedded-model.test.ts` loads the shipped files through the normal loader and checks its
  logits against the ones recorded at export (`tests/fixtures/sherlock-gpt2-logits.json`).
"""
    with open(os.path.join(REPO, "docs", "model.md"), "w") as f:
        f.write(doc)
    print("wrote the model card and docs/model.md")


if __name__ == "__main__":
    main()
