"""Masking numbers for backward questions (SV, FOBAR)."""

from metamath.masking.backward import fobar_form, fobar_query, split_question_sentence, sv_query, sv_rejection, sv_rewrite_input
from metamath.masking.mask import MaskedQuestion, gsm8k_masks, is_plain_number, mask_candidates, math_masks

__all__ = [
    "MaskedQuestion", "fobar_form", "fobar_query", "gsm8k_masks", "is_plain_number", "mask_candidates", "math_masks",
    "split_question_sentence", "sv_query", "sv_rejection", "sv_rewrite_input",
]
