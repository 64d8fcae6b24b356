"""metamath: MetaMath (Yu et al., ICLR 2024) on Ray: augment, train, evaluate."""

__version__ = "0.1.0"
