"""Reads train.py's log.jsonl, following a run back through --init to the runs whose weights it continued."""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def latest_run(log_path):
    """The entries of the last run written to this log (a log may hold earlier, interrupted starts)."""
    entries = [json.loads(line) for line in open(log_path)]
    start = max(i for i, e in enumerate(entries) if e["event"] == "start")
    return entries[start:]


def best_eval(entries):
    """The evaluation train.py saved as best.pt (the lowest validation loss, live or EMA weights)."""
    return min((e for e in entries if e["event"] == "eval"), key=lambda e: e["val_loss"])


def stages(run_dir):
    """Oldest first: every run whose weights led to this one's, then this one.

    Each stage carries how much training came before it (steps, tokens, seconds of the earlier
    stages up to the checkpoint it started from), so figures can be given from the very start.
    """
    log = latest_run(os.path.join(run_dir, "log.jsonl"))
    init = log[0]["args"].get("init")
    if not init:
        return [{"dir": run_dir, "log": log, "steps_before": 0, "tokens_before": 0, "seconds_before": 0.0}]
    init_path = init if os.path.isabs(init) else os.path.join(HERE, init)
    earlier = stages(os.path.dirname(init_path))
    prev, start = earlier[-1], best_eval(earlier[-1]["log"])
    return earlier + [{"dir": run_dir, "log": log,
                       "steps_before": prev["steps_before"] + start["step"],
                       "tokens_before": prev["tokens_before"] + start["tokens_seen"],
                       "seconds_before": prev["seconds_before"] + start["elapsed_s"]}]
