"""Language-model training stack: tokenizer first (issue 5), model and trainer to follow."""
