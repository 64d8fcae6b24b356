"""augment -> train -> evaluate (base and fine-tuned), resumable stage by stage."""
