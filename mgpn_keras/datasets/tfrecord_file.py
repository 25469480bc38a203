"""TFRecord files written without TensorFlow: the `tf.io.TFRecordWriter` format, byte for byte.

A record is framed as TensorFlow's record writer frames it (tensorflow/core/lib/io/
record_writer.cc, and the TFRecord section of the tf.data guide):

    uint64 length, little-endian
    uint32 masked CRC-32C of the length bytes
    the record's bytes
    uint32 masked CRC-32C of the record's bytes

with masked(crc) = ((crc >> 15) | (crc << 17)) + 0xa282ead8 (mod 2^32). The CRC-32C comes from
google-crc32c (Google's C library; the one Beam's own tfrecordio prefers).

Why not `tf.io.TFRecordWriter`: a `mgpn prepare` Beam worker needs nothing else of TensorFlow,
and importing it takes 3.5-4 s of each worker's start-up here (measured), time in which that
worker writes nothing.
"""

from __future__ import annotations

import os
import struct

import google_crc32c

_MASK_DELTA = 0xA282EAD8


def masked_crc32c(data: bytes) -> int:
    """TFRecord's masked CRC-32C of `data`."""
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def frame(record: bytes) -> bytes:
    """One record as a TFRecord file holds it."""
    length = struct.pack("<Q", len(record))
    return b"".join((length, struct.pack("<I", masked_crc32c(length)), record,
                     struct.pack("<I", masked_crc32c(record))))


class TFRecordWriter:
    """Write records to a new TFRecord file; a context manager, as `tf.io.TFRecordWriter`.

    Args:
        path: the file to create (a caller publishing it writes to `atomic.atomic_path`'s
            temporary and lets the rename publish it).
    """

    def __init__(self, path: str | os.PathLike):
        # not through atomic.py: the callers pass atomic.atomic_path's temporary
        self._file = open(path, "wb")

    def write(self, record: bytes) -> None:
        self._file.write(frame(record))

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "TFRecordWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
