"""The generation layer: every model call of the project (augment's teacher, evaluate's decoder,
the analyses' embeddings) goes through it.

    requests.py    request keys and sample expansion (a key is the request's content hash)
    cache/         the response cache: journal and Parquet segments (store), the ledger of
                   requests sent, the lookup that splits a round into samples on file and to send
    backends/      openai (one client: retries, error classes), hf and vLLM actors, the job-wide
                   limiter, and `dispatch`, which hands a round's groups to the configured one
    batch/         the provider's Batch API: files, the journal of batches, the driver
    accounting.py  what a round cost and what came of it (online and batch rounds alike)
    rows.py        the one row schema of a round's output
    round.py       a round: lookup, send what is missing, write one row per sample
    budget.py, shutdown.py   the hard budget; draining rounds in flight on Ctrl-C
"""
