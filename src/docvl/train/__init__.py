"""Training: collator, Trainer subclass, DeepSpeed config, launcher and checkpoints. Entry point: `run.train`."""
