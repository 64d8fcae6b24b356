import json

from metamath.train.metrics import MetricsLog, read_metrics


def _row(step):
    return {"step": step, "loss": 1.0 / step, "lr": 1e-5, "grad_norm": 0.5, "tokens_per_s": 100.0, "epoch": step / 10}


def test_metrics_rows_events_and_resume_truncation(tmp_path, capsys):
    log = MetricsLog(tmp_path, total_steps=10, resume_step=0)
    for step in range(1, 6):
        log.log(_row(step))
    log.close()
    assert "step 5/10" in capsys.readouterr().out
    assert list((tmp_path / "tensorboard").iterdir())
    resumed = MetricsLog(tmp_path, total_steps=10, resume_step=3)  # steps 4, 5 are redone
    for step in range(4, 11):
        resumed.log(_row(step))
    resumed.close()
    rows = read_metrics(tmp_path)
    assert [r["step"] for r in rows] == list(range(1, 11))
    assert set(rows[0]) == {"step", "loss", "lr", "grad_norm", "tokens_per_s", "epoch"}
    assert json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[0])["loss"] == 1.0


def test_stopwatch_counts_the_wait_on_the_iterator_not_the_consumer():
    import time

    from metamath.train.metrics import Stopwatch

    def slow_items():
        for item in range(3):
            time.sleep(0.05)
            yield item

    watch, seen = Stopwatch(), []
    for item in watch.over(slow_items()):
        seen.append(item)
        time.sleep(0.1)  # the step's own work: not data time
    assert seen == [0, 1, 2] and 0.15 <= watch.total < 0.25
