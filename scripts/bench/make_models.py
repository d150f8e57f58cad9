#!/usr/bin/env python3
"""Prepares the benchmark models under bench/.models (ignored by git):

- bert-base-64k: a BERT-base-shaped encoder (768 hidden, 12 layers, 12 heads, 3072 FFN,
  vocabulary 64,000) with random weights (seed 0) and a placeholder WordPiece vocab.txt;
- model.onnx for it and for multilingual-e5-small (torch.onnx.export of transformers'
  BertModel, dynamic batch and sequence axes, opset 17), for ONNX Runtime.

Usage: .venv/bin/python scripts/bench/make_models.py [E5_DIR]
"""
import os
import sys

import torch
from transformers import AutoModel, BertConfig, BertModel

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "bench", ".models")


def bert_base(path):
    if os.path.exists(os.path.join(path, "model.safetensors")):
        return
    os.makedirs(path, exist_ok=True)
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=64000, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                     intermediate_size=3072, max_position_embeddings=512)
    BertModel(cfg, add_pooling_layer=False).save_pretrained(path)
    with open(os.path.join(path, "vocab.txt"), "w", encoding="utf-8") as f:
        for t in ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]:
            f.write(t + "\n")
        for i in range(cfg.vocab_size - 5):
            f.write(f"w{i}\n")


class Encoder(torch.nn.Module):
    """input_ids, attention_mask -> last_hidden_state (positional arguments for the exporter)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def export(model_dir, onnx_path):
    if os.path.exists(onnx_path):
        return
    model = AutoModel.from_pretrained(model_dir, add_pooling_layer=False, attn_implementation="eager").eval()
    x = torch.ones((2, 16), dtype=torch.long) * 5
    torch.onnx.export(Encoder(model), (x, torch.ones_like(x)), onnx_path, input_names=["input_ids", "attention_mask"],
                      output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                      dynamic_axes={"input_ids": {0: "b", 1: "s"}, "attention_mask": {0: "b", 1: "s"},
                                    "last_hidden_state": {0: "b", 1: "s"}})


def main():
    e5 = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~/.cache/naba/multilingual-e5-small")
    base = os.path.join(OUT, "bert-base-64k")
    bert_base(base)
    export(base, os.path.join(base, "model.onnx"))
    os.makedirs(os.path.join(OUT, "e5-onnx"), exist_ok=True)
    export(e5, os.path.join(OUT, "e5-onnx", "model.onnx"))
    print(OUT)


if __name__ == "__main__":
    main()
