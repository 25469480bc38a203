"""Where every annotated record went in `prepare`: kept, or dropped for a named reason.

The readers (`annotations.read_annotations(..., drops=)`) report pairs whose moment is empty or
outside the video; `prepare` adds sentences without tokens, sentences with no word that has a
vector, and videos the feature store does not hold. Per split, kept + dropped = records read,
and the manifest stores the counts by reason (`annotations.DROP_REASONS`).
"""

from __future__ import annotations

from collections import Counter

from mgpn_keras.datasets.annotations import DROP_REASONS, Drop
from mgpn_keras.datasets.errors import DataError


def counts_by_reason(drops: list[Drop]) -> dict[str, int]:
    """{reason: count} for every reason of DROP_REASONS (zeros included, in their order)."""
    tally = Counter(d.reason for d in drops)
    return {reason: tally.get(reason, 0) for reason in DROP_REASONS}


def raise_if_strict(drops: dict[str, list[Drop]]) -> None:
    """`--strict`: the first record left out (file and line) becomes an error."""
    for split, split_drops in drops.items():
        if split_drops:
            more = sum(len(v) for v in drops.values()) - 1
            raise DataError(f"{split_drops[0].message()} (--strict makes every dropped record an "
                            f"error" + (f"; {more} more dropped" if more else "") + ")")


def summary_line(split: str, read: int, kept: int, by_reason: dict[str, int],
                 shards: int | None = None) -> str:
    """One line saying where the split's records went, e.g.

    "test: 9 queries kept of 12 records read (2 shards); 3 dropped: 3 start >= end"
    """
    dropped = sum(by_reason.values())
    where = f" ({shards} shard{'' if shards == 1 else 's'})" if shards is not None else ""
    reasons = ", ".join(f"{n} {DROP_REASONS[r]}" for r, n in by_reason.items() if n)
    return (f"{split}: {kept} queries kept of {read} records read{where}; {dropped} dropped"
            + (f": {reasons}" if reasons else ""))
