"""Object layer: pools -> erasure sets -> objects, with quorum and namespace locks."""
