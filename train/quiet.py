"""Silence library chatter that would bury the trainer's own progress and messages.

transformers prints a progress bar per model load and info logs; peft 0.21 calls a
transformers property deprecated in 5.x on every `get_peft_model`, and prefix tuning passes the
deprecated `past_key_values` keyword on every forward (a FutureWarning per call).
Neither says anything a user can act on.
"""

from __future__ import annotations

import warnings


def quiet_libraries() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", message=r"`is_gradient_checkpointing` is deprecated", category=FutureWarning)
    warnings.filterwarnings("ignore", message=r"`past_key_values` is deprecated", category=FutureWarning)
