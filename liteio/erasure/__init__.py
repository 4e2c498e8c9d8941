"""Erasure pipeline: Reed-Solomon codec, bitrot framing, stripe and range math."""
