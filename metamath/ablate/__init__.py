"""`metamath ablate`: the paper's method ablation (Table 3) and data-size curve (Fig. 2) as a grid."""
