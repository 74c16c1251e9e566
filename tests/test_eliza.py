"""ELIZA: pattern matching, pronoun reflection, keyword ranks, memory, seeds, bad input."""

import copy
import json

import pytest

from lessons import eliza
from lessons.eliza import Eliza, ElizaError

SYNONYMS = {"family": ("mother", "father")}


@pytest.mark.parametrize("lang", eliza.LANGS)
def test_rules_of_both_languages_load_and_pass_the_checks(lang):
    rules = eliza.load_rules(lang)
    assert rules.lang == lang
    assert len(rules.keywords) >= 15
    # each keyword's last rule fits any sentence with it: a keyword found always answers
    bot = Eliza(lang)
    for keyword in rules.keywords:
        for word in keyword.words:
            assert bot.apply(keyword.rules, [word]) is not None, word


def test_match_fills_stars_and_synonym_groups():
    sentence = ["Yesterday", "my", "Mother", "was", "strict"]
    assert eliza.match(("*", "my", "@family", "*"), sentence, SYNONYMS) == [
        ["Yesterday"],
        ["Mother"],
        ["was", "strict"],
    ]
    assert eliza.match(("*", "my", "@family", "*"), ["my", "dog"], SYNONYMS) is None
    assert eliza.match(("*",), [], SYNONYMS) == [[]]
    assert eliza.match(("i", "am", "*"), ["i", "am"], SYNONYMS) == [[]]
    # the first star takes as few words as it can
    assert eliza.match(("*", "a", "*"), ["x", "a", "y", "a", "z"], SYNONYMS) == [
        ["x"],
        ["y", "a", "z"],
    ]


@pytest.mark.parametrize(
    ("lang", "part", "reflected"),
    [
        ("en", "I am sad about my exam", "you are sad about your exam"),
        ("en", "you hate me", "I hate you"),
        ("de", "Ich habe meine Mutter gefragt", "du hast deine Mutter gefragt"),
        ("de", "du kannst mich nicht leiden", "ich kann dich nicht leiden"),
    ],
)
def test_reflection_swaps_the_pronouns(lang, part, reflected):
    assert eliza.reflect(part.split(), eliza.load_rules(lang).reflections) == reflected


@pytest.mark.parametrize(
    ("lang", "message", "replies"),
    [
        (
            "en",
            "I'm so sad.",
            {
                "I am sorry to hear that you are sad.",
                "Do you think it helps to talk here about being sad?",
            },
        ),
        (
            "en",
            "I want my mother back",  # "mother" (rank 3) outranks "i" (rank 0) ...
            {
                "Tell me more about your mother.",
                "Your mother back? How do you feel about that?",
                "Who else in your family matters to you?",
            },
        ),
        (
            "en",
            "You are a machine!",
            {
                "Do computers worry you?",
                "Why do you mention machines?",
                "Do you think machines can think?",
                "How does it feel to talk to a program?",
            },
        ),
        (
            "de",
            "Ich bin müde.",
            {
                "Bist du zu mir gekommen, weil du müde bist?",
                "Wie lange bist du schon müde?",
                "Gefällt es dir, müde zu sein?",
            },
        ),
        (
            "de",
            "Du bist dumm",
            {"Warum glaubst du, dass ich dumm bin?", "Gefällt dir der Gedanke, dass ich dumm bin?"},
        ),
        ("de", "Ich heiße Anna.", {"Schön, dich kennenzulernen, Anna. Was führt dich zu mir?"}),
    ],
)
def test_the_highest_ranked_keyword_answers(lang, message, replies):
    for seed in range(5):
        assert Eliza(lang, seed=seed).reply(message) in replies


def test_the_rank_decides_not_the_order():
    bot = Eliza("en")
    found = [(word, keyword.rank) for keyword, word, _ in bot.keywords("I think you are a robot.")]
    assert found == [("robot", 50), ("i", 0), ("you", 0)]  # equal ranks in reading order
    bot.reply("I think you are a robot.")
    assert bot.trace == eliza.Trace("keyword", "robot", 50, "*")
    assert bot.keywords("Nothing to see here") == []


def test_memory_brings_back_what_was_said_earlier():
    bot = Eliza("en", seed=3)
    bot.reply("My work is boring.")
    assert bot.memory and "your work is boring" in bot.memory[0]
    answer = bot.reply("Hm.")  # no keyword: the memory answers
    assert "your work is boring" in answer and bot.trace.source == "memory"
    assert bot.memory == []
    assert bot.reply("Hm.") in bot.rules.fallbacks  # memory used up: a fallback
    assert bot.trace.source == "fallback"


def test_german_memory_keeps_the_noun_as_typed():
    bot = Eliza("de", seed=0)
    bot.reply("Meine Arbeit ist langweilig.")
    assert "deine Arbeit ist langweilig" in bot.reply("Hm.")


@pytest.mark.parametrize("lang", eliza.LANGS)
def test_the_same_seed_gives_the_same_conversation(lang):
    messages = ["Hallo!", "I am tired", "Ich bin müde", "My sister.", "Ok.", "Ok.", "Why?"]

    def conversation(seed):
        bot = Eliza(lang, seed=seed)
        return [bot.greeting()] + [bot.reply(message) for message in messages]

    assert conversation(7) == conversation(7)
    assert any(conversation(seed) != conversation(7) for seed in range(5))


@pytest.mark.parametrize(("lang", "word"), [("de", "Schreib"), ("en", "Type")])
def test_empty_input_gets_a_clear_message_in_elizas_language(lang, word):
    bot = Eliza(lang)
    for empty in ["", "   ", "\n"]:
        with pytest.raises(ElizaError, match=word):
            bot.reply(empty)
    with pytest.raises(ElizaError, match=str(eliza.MAX_INPUT)):
        bot.reply("x" * (eliza.MAX_INPUT + 1))


def test_markup_is_just_words():
    bot = Eliza("en", seed=0)
    assert bot.reply("<script>alert(1)</script>") in bot.rules.fallbacks
    assert "<" not in bot.reply("<b>my</b> cat <i>is</i> ill")


def test_unknown_language_is_refused():
    with pytest.raises(ElizaError, match="'fr'"):
        Eliza("fr")


def test_broken_rules_are_explained():
    data = json.loads((eliza.DATA / "eliza-en.json").read_text(encoding="utf-8"))
    eliza.parse_rules(data)  # the real file passes
    broken = copy.deepcopy(data)
    broken["keywords"][0]["rules"][0]["reassembly"] = ["{2} is not there"]
    with pytest.raises(ElizaError, match="uses a part it does not have"):
        eliza.parse_rules(broken)
    broken = copy.deepcopy(data)
    broken["keywords"][0]["rules"][0]["decomposition"] = "* @nosuchgroup *"
    with pytest.raises(ElizaError, match="unknown synonym groups"):
        eliza.parse_rules(broken)
    broken = copy.deepcopy(data)
    del broken["fallbacks"]
    with pytest.raises(ElizaError, match="malformed"):
        eliza.parse_rules(broken)
