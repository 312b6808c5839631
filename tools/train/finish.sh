#!/usr/bin/env bash
# After (or during) a training run: export the best checkpoint, measure it with the app's own
# engine, sample "Watson you are" with the app's CLI, write the model card, run the model's test.
#
#   tools/train/finish.sh [checkpoint]      (default tools/train/out/run/best.pt)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=tools/train/out
CHECKPOINT=${1:-$OUT/run/best.pt}

/usr/bin/python3 tools/train/export.py --calibrate --checkpoint "$CHECKPOINT"
npm run cli --silent -- loss --model public/models/sherlock-gpt2 --file $OUT/val.txt --context 256 --backend wasm --json \
  > $OUT/engine-loss.json.tmp && mv $OUT/engine-loss.json.tmp $OUT/engine-loss.json
npm run cli --silent -- generate --model public/models/sherlock-gpt2 --prompt "Watson you are" \
  --top-k 50 --top-p 0.95 --seed 42 --num-return-sequences 3 --max-new-tokens 60 --json \
  > $OUT/cli-generate.json.tmp && mv $OUT/cli-generate.json.tmp $OUT/cli-generate.json
/usr/bin/python3 tools/train/card.py
cat $OUT/engine-loss.json
npx vitest run tests/unit/embedded-model.test.ts
