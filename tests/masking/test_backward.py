import pytest

from metamath.masking import fobar_query, split_question_sentence, sv_query, sv_rejection


def test_fobar_template_exact():
    assert fobar_query("Tom has x apples. How many?", "7", "x") == (
        "Tom has x apples. How many?\n"
        "If we know the answer to the above question is 7, what is the value of unknown variable x?"
    )


@pytest.mark.parametrize(
    "question,body,sentence",
    [
        ("Tom has x apples. He eats 2. How many are left?", "Tom has x apples. He eats 2.", "How many are left?"),
        # a question ending in '.': the reference's split left an empty clause here
        ("Mr. Lee pays $2.50 per pen. He buys x pens. Find the total cost.",
         "Mr. Lee pays $2.50 per pen. He buys x pens.", "Find the total cost."),
        ("How many?", "", "How many?"),
        ("If $x = 2.5$. Then what is $X$? Compute it.", "If $x = 2.5$. Then what is $X$?", "Compute it."),
    ],
)
def test_question_sentence(question, body, sentence):
    assert split_question_sentence(question) == (body, sentence)


def test_sv_query_assembly_and_checks():
    body, sentence = split_question_sentence("Tom buys x pens at $3 each. How much does he spend?")
    query = sv_query(body, "Tom spends $12.", "x")
    assert query == "Tom buys x pens at $3 each. Tom spends $12. What is the value of unknown variable x?"
    assert sv_rejection(query, "Tom spends $12.", "4", "12", "x") is None
    leaky = sv_query(body, "Tom spends $12 on 4 pens.", "x")
    assert sv_rejection(leaky, "Tom spends $12 on 4 pens.", "4", "12", "x") == "states_masked_value"
    assert sv_rejection(query, "Tom spends money.", "4", "12", "x") == "statement_lacks_answer"
    assert sv_rejection(query, "", "4", "12", "x") == "empty_statement"
    assert sv_rejection(query, "Tom spends $12.", "12", "12", "x") == "masked_value_equals_answer"
    no_x = sv_query("Tom buys pens.", "Tom spends $12.", "x")
    assert sv_rejection(no_x, "Tom spends $12.", "4", "12", "x") == "no_unknown_left"
    worded = sv_query(body, "Tom spends $12 for four pens.", "x")
    assert sv_rejection(worded, "Tom spends $12 for four pens.", "4", "12", "x") == "states_masked_value"


def test_math_fobar_takes_the_reference_form_by_default():
    from metamath.masking import fobar_form

    masked = "Find $X$ plus 2."
    assert fobar_form("math") == "reference" and fobar_form("gsm8k") == "plain"
    assert fobar_query(masked, "7", "X", fobar_form("math")) == (
        "Find $X$ plus 2.\n### If we know the answer to the above question is 7, what is the value of unknown variable $X$?")
    assert fobar_query(masked, "7", "X", fobar_form("math", "plain")).endswith("\nIf we know the answer to the above "
                                                                              "question is 7, what is the value of unknown variable X?")
