from __future__ import annotations

from reelforge.model.text import count_words, speakable, split_paragraphs, split_sentences


def test_sentences_keep_abbreviations_inside() -> None:
    text = "Dr. Smith arrived at 9 a.m. on time. Was he late?  No!"
    assert split_sentences(text) == ["Dr. Smith arrived at 9 a.m. on time.", "Was he late?", "No!"]


def test_paragraphs_split_on_blank_lines() -> None:
    assert split_paragraphs("One.\nStill one.\n\n  \nTwo.") == ["One.\nStill one.", "Two."]


def test_money_percent_years_and_numbers_are_spoken_in_words() -> None:
    spoken = speakable("Dr. Lee paid $5.50 for 3,000 apples in 1999; 45% were ripe.")
    assert spoken == (
        "Doctor Lee paid five dollars and fifty cents for three thousand apples in "
        "nineteen ninety-nine; forty-five percent were ripe."
    )


def test_one_dollar_is_singular() -> None:
    assert speakable("$1") == "one dollar"


def test_count_words_ignores_punctuation() -> None:
    assert count_words("Hello, world — it's 2 o'clock!") == 5
