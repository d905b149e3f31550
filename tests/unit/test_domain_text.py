"""domain.text: trimming and bounds shared by every name and description, and the library's sort keys."""

from __future__ import annotations

import pytest

from domain.errors import ValidationError
from domain.text import SORT_KEY_LENGTH, clean_optional, clean_required, sort_key


def test_required_text_is_trimmed_and_neither_blank_nor_too_long() -> None:
    assert clean_required("  Air \n", "title", 3) == "Air"
    refused = {"  \t": "The title must not be empty.", "Airs": "The title must have at most 3 characters."}
    for bad, message in refused.items():
        with pytest.raises(ValidationError) as error:
            clean_required(bad, "title", 3)
        assert error.value.detail == message


def test_optional_text_is_trimmed_blank_is_none_and_too_long_is_refused() -> None:
    assert clean_optional("  Bach ", "composer", 4) == "Bach"
    assert clean_optional("   ", "composer", 4) is None
    assert clean_optional(None, "composer", 4) is None
    assert clean_optional("  " + "x" * 4 + "  ", "composer", 4) == "xxxx"  # the bound applies after trimming
    with pytest.raises(ValidationError) as error:
        clean_optional("Bachs", "composer", 4)
    assert error.value.detail == "The composer must have at most 4 characters."


def test_sort_keys_ignore_case_and_accents_and_keep_their_length_bounded() -> None:
    names = ["zelda", "Étude", "alpha", "Beta", "éclair", "Ave Maria", "ÉTUDE"]
    assert sorted(names, key=sort_key) == ["alpha", "Ave Maria", "Beta", "éclair", "Étude", "ÉTUDE", "zelda"]
    assert sort_key("Dvořák") == sort_key("DVORAK") == "dvorak"
    assert sort_key("Straße") == "strasse"
    assert sort_key("Œuvres complètes") == sort_key("OEUVRES COMPLETES") == "oeuvres completes"
    assert [sort_key(name) for name in ("Łukaszewski", "Søren", "Æolian", "Þór")] == [
        "lukaszewski",
        "soren",
        "aeolian",
        "thor",
    ]
    assert sorted(["Zelda theme", "Œuvre"], key=sort_key) == ["Œuvre", "Zelda theme"]
    assert len(sort_key("ß" * SORT_KEY_LENGTH)) == SORT_KEY_LENGTH


def test_sort_keys_keep_hangul_syllables_whole() -> None:
    assert sort_key("한국 민요") == "한국 민요"
    assert sort_key("하") not in sort_key("한국")  # a search for one syllable does not match another
    assert len(sort_key("한" * SORT_KEY_LENGTH)) == SORT_KEY_LENGTH
