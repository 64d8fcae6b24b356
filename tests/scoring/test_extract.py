import pytest

from metamath.scoring.extract import after_last_paper_marker, strict_answer_text


@pytest.mark.parametrize(
    "completion,expected",
    [
        ("work. The answer is: 42", "42"),
        ("The answer is 42.", "42"),
        ("the answer is: $\\frac{1}{2}$.", "\\frac{1}{2}"),
        ("So $\\boxed{(2, 5]}$.", "(2, 5]"),
        ("The answer is: \\boxed{7} \nmore", "7"),
        ("steps\n#### 1,234", "1,234"),
        ("Thus x = 5. The value of x is 5.", "5"),
        ("The value of unknown variable x is 12", "12"),
        ("The answer is: 3\n...The answer is: 4", "4"),
        ("no marker at all, 42", None),
    ],
)
def test_strict_markers(completion, expected):
    assert strict_answer_text(completion) == expected


def test_paper_marker_needs_colon_and_space():
    assert after_last_paper_marker("The answer is 5") is None
    assert after_last_paper_marker("The answer is: 5 and The answer is: 6") == "6"
