from metamath.records import FilterReport, MetaMathQARecord, ContaminationIndex, decontaminate, dedup_exact


def rec(query, response="r"):
    return MetaMathQARecord(query, response, "GSM_AnsAug", query)


def test_exact_dedup_keeps_first_and_counts():
    report = FilterReport()
    kept = dedup_exact([rec("a"), rec("a"), rec("a", "other"), rec("b")], report)
    assert [(r.query, r.response) for r in kept] == [("a", "r"), ("a", "other"), ("b", "r")]
    assert report.dropped["duplicate"] == 1


def test_ngram_decontamination_names_the_test_set():
    test_q = "Janet has twelve ducks that lay sixteen eggs per day and she eats three of them for breakfast"
    index = ContaminationIndex(13).add("gsm8k_test", [test_q]).add("math_test", ["Compute $1+1$."])
    rows = [
        rec("Rephrased: JANET has twelve ducks that lay sixteen eggs per day, and she eats three of them! ok"),
        rec("Janet has twelve ducks. They lay eggs."),
        rec("Compute $1 + 1$."),
        rec("[asy] draw((0,0)--(1,0)); [/asy] Compute $1+1$ please, then more words."),
    ]
    report = FilterReport()
    kept = decontaminate(rows, index, report)
    assert [r.query for r in kept] == [rows[1].query, rows[3].query]
    assert report.dropped == {"contaminated:gsm8k_test": 1, "contaminated:math_test": 1}


def test_real_train_sets_barely_touch_test_sets(data_root):
    from metamath.data import load_benchmark

    index = ContaminationIndex(13).add("gsm8k_test", [p.question for p in load_benchmark("gsm8k", "test").problems])
    report = FilterReport()
    train = load_benchmark("gsm8k", "train").problems
    decontaminate([rec(p.question) for p in train], index, report)
    assert 0 < report.dropped["contaminated:gsm8k_test"] < 20
