"""`verify train`: fine-tune a causal LM on exactly the rows a `verify run` kept.

The package is split by concern: `data` (chat template, assistant-only targets), `packing`
(rows and batches), `attention` (keeping packed examples apart), `loss` (cross-entropy without
full-vocabulary logits), `methods` (the PEFT family and full fine-tuning), `memory` (the
lecture's arithmetic), `trainer` (the loop), `compare` (several methods, one table) and `cli`.
Heavy libraries (torch, transformers, peft) are imported inside functions so that importing
the package stays cheap.
"""
