"""`metamath batches OUTPUT_DIR [--cancel]`: an augment run's batches, from its journals, with
their live states from the endpoint they were created on."""

from __future__ import annotations

import json
import sys

from metamath import storage
from metamath.errors import MetaMathError
from metamath.generation.batch.driver import TERMINAL, client_for
from metamath.generation.batch.state import BatchJournal


def show_batches(output_dir: str, cancel: bool = False) -> None:
    from rich.console import Console
    from rich.table import Table

    folder = storage.join(output_dir, "batches")
    endpoint_path = storage.join(folder, "endpoint.json")
    if not storage.exists(endpoint_path):
        raise MetaMathError(f"{folder}: no batches here (was {output_dir} written with teacher.mode: batch?)")
    endpoint = json.loads(storage.read_text(endpoint_path))
    client = client_for(endpoint["base_url"], endpoint["api_key_env"])
    table = Table(title=f"batches of {output_dir} ({endpoint['base_url'] or 'api.openai.com'})")
    for column in ("round", "file", "requests", "batch", "status", "completed", "failed", "collected"):
        table.add_column(column, justify="right" if column in ("requests", "completed", "failed") else "left")
    for round_dir in storage.list_dirs(folder):
        for state in BatchJournal(round_dir).files.values():
            status, done, failed = state.status or "not submitted", "", ""
            if state.batch_id:
                batch = client.batches.retrieve(state.batch_id)
                if cancel and batch.status not in TERMINAL and batch.status != "cancelling":
                    batch = client.batches.cancel(state.batch_id)
                status = batch.status
                counts = batch.request_counts
                done, failed = str(getattr(counts, "completed", "")), str(getattr(counts, "failed", ""))
            table.add_row(storage.name(round_dir), state.name, str(state.requests),
                          state.batch_id or "-", status, done, failed, "yes" if state.collected else "no")
    Console(width=None if sys.stdout.isatty() else 200).print(table)  # ids whole when piped
    client.close()
