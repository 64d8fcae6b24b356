"""MetaMathQA records: schema, response finalisation, I/O, dedup and decontamination."""

from metamath.records.filters import FilterReport, ContaminationIndex, decontaminate, dedup_exact
from metamath.records.io import read_records, write_jsonl, write_parquet
from metamath.records.schema import RECORD_FIELDS, RECORD_TYPES, MetaMathQARecord, finalize_response, record_type

__all__ = [
    "FilterReport", "MetaMathQARecord", "RECORD_FIELDS", "RECORD_TYPES", "ContaminationIndex", "decontaminate", "dedup_exact",
    "finalize_response", "read_records", "record_type", "write_jsonl", "write_parquet",
]
