"""The fine-tuning methods, by name. Importing this package registers every method in METHODS.

| family | methods |
| --- | --- |
| additive | prompt-tuning, prefix-tuning |
| selective | bitfit |
| reparameterised | lora, dora, qlora, ia3, adalora, loha, lokr, vera |
| full | full |
"""

from __future__ import annotations

from train.methods import bitfit, full, peft_methods  # noqa: F401  (registration side effect)
from train.methods.base import METHODS, Method, MethodContext, MethodOptions, trainable_parameters

__all__ = ["METHODS", "Method", "MethodContext", "MethodOptions", "trainable_parameters"]
