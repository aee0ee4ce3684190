"""Reading input files (triples, entity texts, literals, features) into records or rejects.

Nothing here talks to a database: the loaders of :mod:`mmkg.platform.ingest` and the training
data of :mod:`mmkg.platform.kge` both read through these.
"""

from mmkg.platform.readers.lines import Reject, check_encoding, iter_records, iter_text_lines
from mmkg.platform.readers.triples import read_triples

__all__ = ["Reject", "check_encoding", "iter_records", "iter_text_lines", "read_triples"]
