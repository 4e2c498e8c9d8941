"""Cluster shape: drive patterns, erasure-set layout, (later) nodes and RPC."""
