"""The torchrun trainer: pretrain (WSD), anneal, SFT; DDP/FSDP2; DCP checkpoints; metrics and report."""
