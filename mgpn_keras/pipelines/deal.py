"""Deal a pipeline's costly elements to the workers in turn, each worker's share about equal.

Beam's Reshuffle (and `beam.Create(..., reshuffle=True)`) keys elements at random, which
spreads many cheap elements well and a few costly ones unevenly: one of 2 DirectRunner workers
finished prepare's shards 0.7-1.2 s after the other (45,000 queries in 176 shards), and
extraction's 8 groups of 48 videos split so that the 2 workers' span was 1.57x one worker's
instead of about 2x (measured). Keyed by their position in an order of falling cost and
grouped by that key, the elements reach the DirectRunner's workers in turn (worker k gets
positions k, k + N, ...). Other runners spread the keys their own way.
"""

from __future__ import annotations

import apache_beam as beam


class DealInTurn(beam.PTransform):
    """(position, element) pairs, costliest first -> the elements, dealt to the workers."""

    def expand(self, keyed):
        return (keyed
                | "group by position" >> beam.GroupByKey()
                | "elements" >> beam.FlatMap(lambda grouped: grouped[1]))
