from metamath.scoring.hendrycks import fix_a_slash_b, fix_fracs, fix_sqrt, is_equiv, strip_string


def test_rewrites():
    assert fix_fracs("\\frac12") == "\\frac{1}{2}"
    assert fix_fracs("\\frac1{22}") == "\\frac{1}{22}"
    assert fix_fracs("\\frac1") == "\\frac1"
    assert fix_sqrt("\\sqrt3+\\sqrt{5}") == "\\sqrt{3}+\\sqrt{5}"
    assert fix_a_slash_b("3/4") == "\\frac{3}{4}"
    assert strip_string("k = 7") == "7"
    assert strip_string(".5") == "\\frac{1}{2}"
    assert strip_string("10\\%") == "10"
    assert strip_string("\\$ 4.50") == "4.50"


def test_unnormalisable_shapes_fall_back_to_raw_equality():
    # a/b with non-integers raises inside the original; equality falls back to the raw strings
    assert is_equiv("x/2", "x/2") and not is_equiv("x/2", "x / 2")
    assert is_equiv("\\text{ a}\\text{ b}", "\\text{ a}\\text{ b}")
    assert is_equiv(None, None) and not is_equiv("1", None)
