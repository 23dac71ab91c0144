"""The trainer service: fine-tunes one LoRA adapter per (policy, seed)."""
