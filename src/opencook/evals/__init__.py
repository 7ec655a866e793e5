"""Evaluation: HumanEval/MBPP pass@k with protocols recorded to the prompt, generated code run in a sandbox."""
