"""RFC 9162 Merkle trees: hashing, a streaming frontier, and inclusion/consistency proofs.

Pure functions over bytes; no database. Leaves are SHA-256(0x00 || data), interior nodes
SHA-256(0x01 || left || right), and the root of an empty tree is SHA-256 of nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import overload

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


class AfterFrontier(Sequence[bytes]):
    """The leaves of a tree whose first *frontier.size* leaves are known only by the frontier's perfect subtrees
    (history retired from the database), followed by *rest*, or a slice of them. Proofs for leaves after the
    frontier, and consistency proofs from sizes at or after it, use those subtrees whole (each is exactly a
    node such proofs need); a proof that would need a node inside one raises ValueError."""

    def __init__(self, frontier: Frontier, rest: Sequence[bytes], lo: int = 0, hi: int | None = None) -> None:
        self._frontier, self._rest = frontier, rest
        self._lo, self._hi = lo, frontier.size + len(rest) if hi is None else hi
        self._peaks: dict[tuple[int, int], bytes] = {}
        start = 0
        for bit, peak in zip(sorted((1 << b for b in range(frontier.size.bit_length()) if frontier.size >> b & 1),
                                    reverse=True), frontier.peaks, strict=True):
            self._peaks[(start, start + bit)] = peak
            start += bit

    def __len__(self) -> int:
        return self._hi - self._lo

    def known_root(self) -> bytes | None:
        """The root of this range when it is one of the frontier's subtrees; ValueError when it lies inside one."""
        if (self._lo, self._hi) in self._peaks:
            return self._peaks[(self._lo, self._hi)]
        if any(s <= self._lo and self._hi <= e for s, e in self._peaks):
            raise ValueError(f"leaves {self._lo}..{self._hi - 1} were retired: this proof needs the archive")
        return None  # made of whole subtrees, or reaching past them: split further

    @overload
    def __getitem__(self, index: int) -> bytes: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[bytes]: ...

    def __getitem__(self, index: int | slice) -> bytes | Sequence[bytes]:
        cut = self._frontier.size
        if isinstance(index, slice):
            start, stop, _ = index.indices(len(self))
            lo, hi = self._lo + start, self._lo + stop
            if lo >= cut:
                return self._rest[lo - cut:hi - cut]
            return AfterFrontier(self._frontier, self._rest, lo, hi)
        position = self._lo + (index + len(self) if index < 0 else index)
        if position >= cut:
            return self._rest[position - cut]
        return AfterFrontier(self._frontier, self._rest, position, position + 1).known_root() or b""


def root_of(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) for leaf hashes *leaves*."""
    if isinstance(leaves, AfterFrontier) and (known := leaves.known_root()) is not None:
        return known
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = _largest_power_of_two_below(n)
    return node_hash(root_of(leaves[:k]), root_of(leaves[k:]))


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 2.1.3.1 for the leaf at *index* in the tree of *leaves*."""
    n = len(leaves)
    if not 0 <= index < n:
        raise ValueError(f"leaf index {index} outside tree of size {n}")
    if n == 1:
        return []
    k = _largest_power_of_two_below(n)
    if index < k:
        return inclusion_proof(index, leaves[:k]) + [root_of(leaves[k:])]
    return inclusion_proof(index - k, leaves[k:]) + [root_of(leaves[:k])]


def consistency_proof(size1: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 9162 2.1.4.1: the tree of the first *size1* leaves is a prefix of *leaves*."""
    n = len(leaves)
    if not 0 < size1 <= n:
        raise ValueError(f"no consistency proof from size {size1} to size {n}")

    def subproof(m: int, d: Sequence[bytes], complete: bool) -> list[bytes]:
        if m == len(d):
            return [] if complete else [root_of(d)]
        k = _largest_power_of_two_below(len(d))
        if m <= k:
            return subproof(m, d[:k], complete) + [root_of(d[k:])]
        return subproof(m - k, d[k:], False) + [root_of(d[:k])]

    return subproof(size1, leaves, True)


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
