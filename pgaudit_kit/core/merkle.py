"""RFC 9162 Merkle trees: hashing, a streaming frontier, and inclusion/consistency proofs.

Pure functions over bytes; no database. Leaves are SHA-256(0x00 || data), interior nodes
SHA-256(0x01 || left || right), and the root of an empty tree is SHA-256 of nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof does not verify. Holds what was expected and what was calculated, when known."""

    def __init__(self, message: str, expected: bytes | None = None, calculated: bytes | None = None) -> None:
        super().__init__(message)
        self.expected = expected
        self.calculated = calculated


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


_NODE_PREFIX = hashlib.sha256(b"\x01")


def _hash_pairs(level: bytes) -> bytes:
    """The next level up of a level of 2^k nodes given as their concatenation."""
    parents = []
    for i in range(0, len(level), 2 * HASH_SIZE):
        node = _NODE_PREFIX.copy()  # cheaper than hashing b"\x01" + left + right afresh
        node.update(level[i:i + 2 * HASH_SIZE])
        parents.append(node.digest())
    return b"".join(parents)


def _largest_power_of_two_below(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


@dataclass
class Frontier:
    """The compact range [0, size): one root per perfect subtree, largest first (at most 64).

    Appending is O(log n) and the tree root is always at hand, so a verifier can stream millions of
    leaves in constant memory.
    """

    size: int = 0
    peaks: list[bytes] = field(default_factory=list)

    def append(self, leaf: bytes) -> None:
        node, index = leaf, self.size
        while index & 1:
            node = node_hash(self.peaks.pop(), node)
            index >>= 1
        self.peaks.append(node)
        self.size += 1

    def extend(self, leaves: bytes) -> None:
        """Append the leaf hashes concatenated in *leaves*: the same as appending them one by one, but
        a perfect subtree at a time, hashed level by level (the two children of each node of a level lie
        side by side), so that each of its about one node hash per leaf costs little Python."""
        if len(leaves) % HASH_SIZE:
            raise ValueError(f"{len(leaves)} bytes are not a whole number of {HASH_SIZE}-byte hashes")
        start, count = 0, len(leaves) // HASH_SIZE
        while start < count:
            # the largest subtree that starts at the current size (a multiple of its width) and fits
            height = min((self.size & -self.size).bit_length() - 1 if self.size else 64,
                         (count - start).bit_length() - 1)
            level = leaves[start * HASH_SIZE:(start + (1 << height)) * HASH_SIZE]
            for _ in range(height):
                level = _hash_pairs(level)
            index, node = self.size >> height, level
            while index & 1:
                node = node_hash(self.peaks.pop(), node)
                index >>= 1
            self.peaks.append(node)
            self.size += 1 << height
            start += 1 << height

    def root(self) -> bytes:
        if not self.peaks:
            return EMPTY_ROOT
        acc = self.peaks[-1]
        for peak in reversed(self.peaks[:-1]):
            acc = node_hash(peak, acc)
        return acc

    def copy(self) -> Frontier:
        return Frontier(self.size, list(self.peaks))


def root_of(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) for leaf hashes *leaves*."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = _largest_power_of_two_below(n)
    return node_hash(root_of(leaves[:k]), root_of(leaves[k:]))


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 2.1.3.1 for the leaf at *index* in the tree of *leaves*."""
    return [root_of(leaves[lo:hi]) for lo, hi in inclusion_ranges(index, len(leaves))]


def consistency_proof(size1: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 9162 2.1.4.1: the tree of the first *size1* leaves is a prefix of *leaves*."""
    return [root_of(leaves[lo:hi]) for lo, hi in consistency_ranges(size1, len(leaves))]


# Proofs of a log too large to hold in memory: the nodes a proof needs are the roots of leaf ranges, known from
# the proof's shape alone, and computed while the leaves stream past once (at most 64 hashes a range held).
Range = tuple[int, int]


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The leaf ranges [lo, hi) whose roots, in this order, are PATH(index, D[size]) (RFC 9162 2.1.3.1)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} outside tree of size {size}")

    def path(m: int, lo: int, hi: int) -> list[Range]:
        if hi - lo == 1:
            return []
        k = _largest_power_of_two_below(hi - lo)
        if m < k:
            return path(m, lo, lo + k) + [(lo + k, hi)]
        return path(m - k, lo + k, hi) + [(lo, lo + k)]

    return path(index, 0, size)


def consistency_ranges(size1: int, size2: int) -> list[Range]:
    """The leaf ranges whose roots, in this order, are PROOF(size1, D[size2]) (RFC 9162 2.1.4.1)."""
    if not 0 < size1 <= size2:
        raise ValueError(f"no consistency proof from size {size1} to size {size2}")

    def subproof(m: int, lo: int, hi: int, complete: bool) -> list[Range]:
        if m == hi - lo:
            return [] if complete else [(lo, hi)]
        k = _largest_power_of_two_below(hi - lo)
        if m <= k:
            return subproof(m, lo, lo + k, complete) + [(lo + k, hi)]
        return subproof(m - k, lo + k, hi, False) + [(lo, lo + k)]

    return subproof(size1, 0, size2, True) if size1 != size2 else []


def range_roots(ranges: Iterable[Range], leaves: Iterable[bytes], base: Frontier | None = None) -> list[bytes]:
    """The root of each leaf range (in the order given), reading the leaves once, in chunks of concatenated
    hashes, in constant memory. The leaves start after *base*, the frontier of the tree of the first base.size
    leaves (retired history: known only by its perfect subtrees); a range, or the part of one, before that must
    be made of those subtrees, else ValueError."""
    base = base or Frontier()
    wanted = list(ranges)
    start = base.size
    peaks: dict[int, tuple[int, bytes]] = {}  # start of a base subtree -> (its end, its root)
    at = 0
    for bit in sorted((1 << b for b in range(start.bit_length()) if start >> b & 1), reverse=True):
        peaks[at] = (at + bit, base.peaks[len(peaks)])
        at += bit
    growing: dict[Range, Frontier] = {}
    for lo, hi in wanted:
        at, seed = lo, []
        while at < min(hi, start):  # the part before the leaves: whole subtrees of the retired tree
            if at not in peaks or peaks[at][0] > hi:
                raise ValueError(f"leaves {lo}..{hi - 1} reach into retired history: this proof needs its archive")
            at, root = peaks[at]
            seed.append(root)
        growing[(lo, hi)] = Frontier(at - lo, seed)
    position = start
    for chunk in leaves:
        count = len(chunk) // HASH_SIZE
        for (lo, hi), frontier in growing.items():
            first, last = max(lo, position), min(hi, position + count)
            if first < last:
                frontier.extend(chunk[(first - position) * HASH_SIZE:(last - position) * HASH_SIZE])
        position += count
    roots = []
    for lo, hi in wanted:
        frontier = growing[(lo, hi)]
        if frontier.size != hi - lo:
            raise ValueError(f"the log holds fewer than {hi} leaves")
        roots.append(frontier.root())
    return roots


def _check_hash_sizes(*hashes: bytes) -> None:
    for value in hashes:
        if len(value) != HASH_SIZE:
            raise ProofError(f"hash of {len(value)} bytes; SHA-256 hashes have {HASH_SIZE}")


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """RFC 9162 2.1.3.2. Raises ProofError unless *proof* shows *leaf* at *index* in the tree *root*."""
    _check_hash_sizes(leaf, root, *proof)
    if index >= size or index < 0:
        raise ProofError(f"leaf index {index} is outside the tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the tree is deep")
    if r != root:
        raise ProofError("inclusion proof leads to another root", expected=root, calculated=r)


def verify_consistency(size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]) -> None:
    """RFC 9162 2.1.4.2. Raises ProofError unless the tree (size1, root1) is a prefix of (size2, root2)."""
    _check_hash_sizes(*proof)
    if size1 > size2:
        raise ProofError(f"size {size1} is larger than size {size2}")
    if size1 == 0:
        raise ProofError("a consistency proof from the empty tree proves nothing")
    if size1 == size2:
        if proof:
            raise ProofError("trees of equal size need an empty proof")
        if root1 != root2:
            raise ProofError("trees of equal size have different roots", expected=root2, calculated=root1)
        return
    if not proof:
        raise ProofError("empty consistency proof")
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # size1 is a power of two: its root is a node of the bigger tree
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is too short")
    if fr != root1:
        raise ProofError("consistency proof does not lead to the first root", expected=root1, calculated=fr)
    if sr != root2:
        raise ProofError("consistency proof does not lead to the second root", expected=root2, calculated=sr)
