"""Supervised fine-tuning: Ray Train launches DeepSpeed workers (method doc section 4)."""
