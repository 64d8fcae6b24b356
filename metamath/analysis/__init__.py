"""Analyses behind the paper's figures, run on outputs of the other stages."""
