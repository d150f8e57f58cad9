#!/usr/bin/env python3
"""Loads naba-trained model folders in Hugging Face transformers and prints their predictions,
to compare with `naba predict` on the same text (same tensor names, config keys, tokenizer).

Usage: .venv/bin/python scripts/check_transformers_load.py TOPIC_DIR NER_DIR "text"
"""
import sys

import torch
from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification, PreTrainedTokenizerFast

topic_dir, ner_dir, text = sys.argv[1], sys.argv[2], sys.argv[3]
for kind, cls, d in [("topic", AutoModelForSequenceClassification, topic_dir), ("ner", AutoModelForTokenClassification, ner_dir)]:
    tok = PreTrainedTokenizerFast(tokenizer_file=f"{d}/tokenizer.json")
    model = cls.from_pretrained(d).eval()
    enc = tok(text, return_tensors="pt")
    with torch.no_grad():
        logits = model(**enc).logits
    probs = logits.softmax(-1)
    if kind == "topic":
        top = probs[0].argsort(descending=True)
        print("topic:", [(model.config.id2label[int(i)], round(float(probs[0, i]), 6)) for i in top])
    else:
        print("ner tags:", [model.config.id2label[int(i)] for i in probs[0].argmax(-1)])
