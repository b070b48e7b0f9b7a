"""The sealed log: sealing, checkpoints and their origin, streaming events and leaves, proofs."""
