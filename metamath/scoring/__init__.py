"""Answer extraction and the two scorers: `paper` (MetaMath's rules) and `strict` (math-verify)."""

from metamath.scoring.extract import strict_answer_text
from metamath.scoring.paper import paper_verdict
from metamath.scoring.strict import strict_verdict
from metamath.scoring.verdicts import Verdict, score_batch, score_one

__all__ = ["Verdict", "paper_verdict", "score_batch", "score_one", "strict_answer_text", "strict_verdict"]
