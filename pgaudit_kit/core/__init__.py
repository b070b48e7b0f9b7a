"""The kit's pure parts, no database: names, errors, the canonical encoding, Merkle trees, signing, anchors."""
