"""Generated short movie-review sentences for the capabilities a bag of words and one epoch of Rotten Tomatoes
sentences get wrong: negation, "not bad" and its kin, contrast, intensifiers, ratings in words, irony, one-liners.

CheckList-style (Ribeiro et al. 2020): templates filled from word lists, each template with a fixed label (or a
label that follows from the words filled in, e.g. the clause after "but"). Written from general knowledge of how
people write reviews, **without reading the behavioural test set** (`behavioural_reviews.csv`), so a score there says
how well the model generalises, not how well it fits that file.

Deterministic: the same seed gives the same rows. Every capability's templates are split in two by a fixed rule
(every `HOLDOUT_EVERY`-th template of a capability and polarity is held out), so `split="validation"` rows come from
templates the `split="train"` rows never used: a validation score on them says whether the model learned the
capability or the templates.

    python -m training.capability_data [--rows-per-capability 400] [--split train|validation] [--out FILE.csv]
"""

from __future__ import annotations

import argparse
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

SOURCE = "capability"
HOLDOUT_EVERY = 4  # templates 3, 7, 11, ... of each capability and polarity are validation-only
CAPABILITIES = ("negation", "litotes", "contrast", "intensifiers", "ratings", "irony", "one_liners")

SUBJECTS = [
    "the film",
    "this film",
    "the movie",
    "this movie",
    "the plot",
    "the cast",
    "the script",
    "the ending",
    "the acting",
    "the dialogue",
    "the soundtrack",
    "the direction",
    "the story",
    "the screenplay",
    "the sequel",
    "the lead",
    "the pacing",
    "the finale",
    "the premise",
    "this picture",
    "the remake",
    "the documentary",
    "the comedy",
    "the thriller",
    "the third act",
    "the animation",
    "the score",
    "the whole thing",
    "it",
    "the first half",
    "the villain",
    "the central performance",
    "the editing",
    "the humour",
    "the cinematography",
]
POS_ADJ = [
    "good",
    "great",
    "wonderful",
    "brilliant",
    "enjoyable",
    "charming",
    "moving",
    "funny",
    "gripping",
    "clever",
    "delightful",
    "engaging",
    "entertaining",
    "superb",
    "fantastic",
    "memorable",
    "touching",
    "thrilling",
    "beautiful",
    "compelling",
    "fresh",
    "smart",
    "excellent",
    "satisfying",
    "riveting",
    "heartfelt",
    "hilarious",
    "stunning",
    "absorbing",
    "witty",
    "lovely",
    "terrific",
    "powerful",
    "gorgeous",
    "inventive",
    "tense",
    "warm",
    "sharp",
]
NEG_ADJ = [
    "bad",
    "awful",
    "boring",
    "dull",
    "terrible",
    "tedious",
    "clumsy",
    "predictable",
    "lifeless",
    "forgettable",
    "painful",
    "bland",
    "flat",
    "stupid",
    "weak",
    "mediocre",
    "pointless",
    "messy",
    "lazy",
    "tiresome",
    "disappointing",
    "dreadful",
    "incoherent",
    "shallow",
    "sloppy",
    "limp",
    "joyless",
    "overlong",
    "cheap",
    "hollow",
    "derivative",
    "annoying",
    "silly",
    "unfunny",
    "wooden",
    "dire",
    "plodding",
    "muddled",
]
# Adjectives whose negation reads as praise ("never boring", "not dull"); "not bad" itself is the litotes set's.
NEG_ADJ_NEGATABLE = [
    "boring",
    "dull",
    "tedious",
    "predictable",
    "slow",
    "tiresome",
    "forgettable",
    "bland",
    "lifeless",
    "clumsy",
    "dreary",
    "pretentious",
    "overlong",
    "preachy",
    "shallow",
    "cheesy",
    "sappy",
    "confusing",
    "derivative",
]
POS_NOUN = [
    "a gem",
    "a triumph",
    "a delight",
    "a treat",
    "a joy",
    "a classic",
    "a knockout",
    "a winner",
    "a must-see",
    "a crowd-pleaser",
    "a marvel",
    "a real achievement",
    "a little wonder",
    "a blast",
]
NEG_NOUN = [
    "a mess",
    "a disaster",
    "a bore",
    "a chore",
    "a dud",
    "a slog",
    "a letdown",
    "a misfire",
    "a train wreck",
    "a waste of time",
    "a snooze",
    "a failure",
    "a dreary affair",
    "a flop",
    "an embarrassment",
]
FILM_NOUN = ["film", "movie", "picture", "flick", "comedy", "drama", "thriller", "sequel", "story", "debut"]
INTENSIFIERS = [
    "very",
    "really",
    "incredibly",
    "truly",
    "extremely",
    "utterly",
    "thoroughly",
    "absolutely",
    "so",
    "remarkably",
    "genuinely",
    "deeply",
    "wildly",
    "completely",
    "exceptionally",
    "insanely",
    "seriously",
    "downright",
]
DIMINISHERS = ["somewhat", "fairly", "rather", "a bit", "slightly", "mildly", "a little", "pretty", "quite"]
LIKE_VERBS = ["like", "enjoy", "love", "care for"]
POS_CLAUSES = [
    "I loved it",
    "I had a great time",
    "it works",
    "it is worth seeing",
    "I would watch it again",
    "the cast is wonderful",
    "the ending lands",
    "it kept me hooked",
    "I laughed a lot",
    "it is a real pleasure",
    "the performances carry it",
    "it won me over",
    "it is well worth the ticket",
    "I left smiling",
    "the last act is superb",
    "it has real heart",
    "the story grips",
    "it is beautifully made",
]
NEG_CLAUSES = [
    "I hated it",
    "it drags",
    "it falls apart",
    "it is a chore to sit through",
    "I was bored stiff",
    "the script is a mess",
    "the ending ruins it",
    "it never comes together",
    "I checked my watch constantly",
    "it is not worth the ticket",
    "the acting is wooden",
    "nothing happens",
    "it overstays its welcome",
    "I nearly walked out",
    "the jokes fall flat",
    "it is deeply dull",
    "the story goes nowhere",
    "it left me cold",
]
POS_NP = [
    "a terrific cast",
    "a clever premise",
    "some lovely photography",
    "a great score",
    "its big budget",
    "a strong opening",
    "a few good jokes",
    "a charming lead",
    "its reputation",
    "the hype",
    "glowing reviews",
    "a famous director",
    "stunning effects",
    "a promising first act",
]
NEG_NP = [
    "a slow start",
    "a thin plot",
    "a tiny budget",
    "some clumsy dialogue",
    "a few rough edges",
    "its length",
    "a silly premise",
    "the bad reviews",
    "a shaky first act",
    "an unknown cast",
    "the cheap effects",
    "a predictable story",
    "its flaws",
    "a clunky title",
]
UNPLEASANT = [
    "a root canal",
    "a tax audit",
    "watching paint dry",
    "a dental appointment",
    "a long queue at the post office",
    "a three-hour layover",
    "a traffic jam",
    "a flu shot",
    "a wet weekend",
    "a staff meeting",
    "doing my taxes",
    "stubbing a toe",
    "a parking ticket",
    "a broken dishwasher",
]
BORING_ACTIVITIES = [
    "being bored",
    "staring at a wall",
    "checking your watch",
    "falling asleep",
    "watching paint dry",
    "waiting for something to happen",
    "counting ceiling tiles",
    "sitting in traffic",
    "silence and confusion",
    "two hours of nothing",
    "reading the phone book",
]
DURATIONS = ["two hours", "ninety minutes", "those two hours", "my evening", "three hours", "that afternoon"]
NEG_ABSTRACT = ["tedium", "boredom", "incoherence", "bad taste", "mediocrity", "cliche", "miscasting", "dullness"]
NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]

WORD_LISTS = {
    name: words
    for name, words in {
        "POS_ADJ": POS_ADJ,
        "NEG_ADJ": NEG_ADJ,
        "NEG_ADJ_NEGATABLE": NEG_ADJ_NEGATABLE,
        "POS_NOUN": POS_NOUN,
        "NEG_NOUN": NEG_NOUN,
        "FILM_NOUN": FILM_NOUN,
        "INTENSIFIERS": INTENSIFIERS,
        "DIMINISHERS": DIMINISHERS,
        "LIKE_VERBS": LIKE_VERBS,
        "UNPLEASANT": UNPLEASANT,
        "BORING_ACTIVITIES": BORING_ACTIVITIES,
        "DURATIONS": DURATIONS,
        "NEG_ABSTRACT": NEG_ABSTRACT,
    }.items()
}
Filler = Callable[[random.Random], tuple[str, int]]


@dataclass(frozen=True)
class Template:
    capability: str
    polarity: int  # the label of every row it makes; a template with -1 makes rows of either label (it says which)
    fill: Filler


def pick(rng: random.Random, words: list[str]) -> str:
    return words[rng.randrange(len(words))]


def _copula(subject: str, rng: random.Random) -> str:
    plural = subject.endswith(("s", "cast")) and subject not in ("the premise", "this picture", "the whole thing")
    tense = rng.random() < 0.5
    if subject.endswith("performances") or subject.endswith("effects"):
        plural = True
    if subject in ("the cast",):
        plural = False
    if plural:
        return "were" if tense else "are"
    return "was" if tense else "is"


def _negated(copula: str, rng: random.Random) -> str:
    contracted = {"is": "isn't", "was": "wasn't", "are": "aren't", "were": "weren't"}[copula]
    return contracted if rng.random() < 0.6 else f"{copula} not"


def expand(pattern: str, rng: random.Random) -> str:
    """Fill a pattern left to right: `{NAME}` is a word from the list NAME (SUBJECT: a subject), `{a|b|c}` one of
    the alternatives."""

    def fill(match: re.Match[str]) -> str:
        slot = match.group(1)
        if slot == "SUBJECT":
            return pick(rng, SUBJECTS)
        if slot.isupper() and slot in WORD_LISTS:
            return pick(rng, WORD_LISTS[slot])
        return pick(rng, slot.split("|"))

    return re.sub(r"\{([^{}]*)\}", fill, pattern)


def fixed(capability: str, label: int, make: str | Callable[[random.Random], str]) -> Template:
    """A template whose rows all have `label`: a pattern for `expand`, or a function of the random generator."""
    if isinstance(make, str):
        pattern = make
        return Template(capability, label, lambda rng: (expand(pattern, rng), label))
    function = make
    return Template(capability, label, lambda rng: (function(rng), label))


def _subj(rng: random.Random) -> str:
    return pick(rng, SUBJECTS)


# ----------------------------------------------------------------------------------------------- negation
def _neg_not_pos(rng: random.Random) -> str:
    s = _subj(rng)
    return f"{s} {_negated(_copula(s, rng), rng)} {pick(rng, POS_ADJ)}"


def _neg_not_neg(rng: random.Random) -> str:
    s = _subj(rng)
    return f"{s} {_negated(_copula(s, rng), rng)} {pick(rng, NEG_ADJ_NEGATABLE)} for a second"


NEGATION = [
    fixed("negation", 0, _neg_not_pos),
    fixed("negation", 1, "never {NEG_ADJ_NEGATABLE}, always {POS_ADJ}"),
    fixed("negation", 0, "I didn't {LIKE_VERBS} {SUBJECT} at all"),
    fixed("negation", 1, "not once did I find {SUBJECT} {NEG_ADJ_NEGATABLE}"),
    fixed("negation", 0, "it wasn't worth {the ticket|the money|my time|the wait}"),
    fixed("negation", 1, "there is never a {dull|boring|wasted|slow} moment"),
    fixed("negation", 0, "there is nothing {POS_ADJ} about {SUBJECT}"),
    fixed("negation", 1, "no one could call {SUBJECT} {NEG_ADJ_NEGATABLE}"),
    fixed("negation", 0, "I would not call {SUBJECT} {POS_ADJ} by any stretch"),
    fixed("negation", 1, _neg_not_neg),
    fixed("negation", 0, "{SUBJECT} never {works|comes together|takes off|clicks}"),
    fixed("negation", 1, "I didn't regret a {single minute|moment|second} of it"),
    fixed("negation", 0, "I did not {LIKE_VERBS} a single {minute|scene} of it"),
    fixed("negation", 1, "I couldn't {look away|stop smiling|stop laughing}"),
    fixed("negation", 0, "don't waste your {money|time|evening} on {SUBJECT}"),
    fixed("negation", 1, "don't {miss|skip|pass on} this one"),
    fixed("negation", 0, "nobody in the {theatre|room|audience} seemed to enjoy it"),
    fixed("negation", 1, "I never once {checked my phone|got bored|looked at my watch}"),
    fixed("negation", 0, "{SUBJECT} doesn't {work|deliver|make sense|land}"),
    fixed("negation", 1, "I can't think of a {bad|weak|wasted} scene in it"),
    fixed("negation", 0, "I can't {recommend|defend|praise} {SUBJECT}"),
    fixed("negation", 1, "it never {lets up|loses its grip|drags|talks down to us}"),
    fixed("negation", 0, "not a {POS_ADJ} {FILM_NOUN} in any way"),
    fixed("negation", 1, "you won't {be bored|regret it|forget it soon}"),
    fixed("negation", 0, "neither {SUBJECT} nor the {cast|script|music} is any good"),
    fixed("negation", 1, "nothing about {SUBJECT} {disappoints|feels cheap|is wasted}"),
    fixed("negation", 0, "I wouldn't {watch it again|recommend it|pay to see it}"),
    fixed("negation", 1, "I wouldn't change {a thing|a single scene|a frame}"),
    # Minimal pairs (added after run 7): the same operator with both labels, so no operator alone decides the label.
    fixed("negation", 0, "don't bother with {SUBJECT}"),
    fixed("negation", 1, "don't let the {title|poster|trailer|premise} put you off"),
    fixed("negation", 0, "I can't say I {liked|enjoyed|cared about} {SUBJECT}"),
    fixed("negation", 1, "I can't say I was {bored|disappointed|let down} for a second"),
    fixed("negation", 0, "nobody {laughed|clapped|cared} {in my screening|at all|even once}"),
    fixed("negation", 1, "nobody {walked out|left early|checked their phone} {in my screening|all night|even once}"),
    fixed("negation", 0, "it never {made me laugh|moved me|surprised me|earns its ending}"),
    fixed("negation", 1, "I never {wanted it to end|stopped grinning|lost interest}"),
    fixed("negation", 0, "no one would call {SUBJECT} {POS_ADJ}"),
    fixed("negation", 1, "you can't call {SUBJECT} {NEG_ADJ_NEGATABLE}"),
    fixed("negation", 0, "you can't call {SUBJECT} {POS_ADJ} with a straight face"),
    fixed("negation", 1, "don't {listen to the critics|believe the bad reviews|let the length scare you}"),
]

# ------------------------------------------------------------------------------------------ "not bad" kin
LITOTES = [
    fixed("litotes", 1, "not bad{| at all|, not bad at all| for a debut}"),
    fixed("litotes", 0, "not {great|very good|much good|all that good}"),
    fixed("litotes", 1, "{SUBJECT} is not half bad"),
    fixed("litotes", 0, "{SUBJECT} is not exactly {good|great|a masterpiece|fun}"),
    fixed("litotes", 1, "not too shabby"),
    fixed("litotes", 0, "hardly {a masterpiece|worth it|a classic|memorable}"),
    fixed("litotes", 1, "far from {bad|boring|dull|a disaster|forgettable}"),
    fixed("litotes", 0, "far from {good|great|a success|its best|enjoyable}"),
    fixed("litotes", 1, "{SUBJECT} is not without its {charms|pleasures|merits}"),
    fixed("litotes", 0, "nothing {special|to write home about|memorable|new}"),
    fixed("litotes", 1, "not a bad way to spend {an evening|two hours|a Sunday}"),
    fixed("litotes", 0, "not much of a {FILM_NOUN}"),
    fixed("litotes", 1, "I've {had worse evenings|seen far worse}, and this was good fun"),
    fixed("litotes", 0, "not {particularly|especially|terribly} {POS_ADJ}"),
    fixed("litotes", 1, "no {small|minor|mean} achievement"),
    fixed("litotes", 0, "not the {best|smartest|funniest} {FILM_NOUN}, sadly"),
    fixed("litotes", 1, "{SUBJECT} is not {unpleasant|unwatchable|a waste} at all"),
    fixed("litotes", 0, "{SUBJECT} is no {masterpiece|classic|gem|triumph}"),
    fixed("litotes", 1, "not {terrible|awful|bad}, {actually|really}"),
    fixed("litotes", 0, "not {good|funny|clever|scary} enough"),
    fixed("litotes", 1, "not bad, not bad at all"),
    fixed("litotes", 0, "{SUBJECT} is not {much fun|worth much|my cup of tea}"),
    fixed("litotes", 1, "hardly {boring|a waste of time|a disappointment|dull}"),
    fixed("litotes", 0, "no great {shakes|joy|fun}"),
    fixed("litotes", 1, "nothing to {complain about|sneer at|be ashamed of}"),
    fixed("litotes", 0, "nothing to {get excited about|remember it by|see here}"),
    fixed("litotes", 1, "no {slouch|bore|turkey|dud}"),
    fixed("litotes", 0, "{not much of a|hardly a|far from a} {triumph|success|thrill}"),
    fixed("litotes", 1, "{not a bad|hardly a wasted|far from a wasted} {evening|night out|two hours}"),
    fixed("litotes", 0, "not {the best|a great|a good} use of {an evening|two hours|your money}"),
    fixed("litotes", 1, "I was not {unimpressed|disappointed|let down}"),
    fixed("litotes", 0, "I was not {impressed|moved|amused|entertained}"),
]


# -------------------------------------------------------------------------------------------------- contrast
def _clause(rng: random.Random, label: int) -> str:
    if rng.random() < 0.5:
        return pick(rng, POS_CLAUSES if label else NEG_CLAUSES)
    s = _subj(rng)
    adjectives = POS_ADJ if label else NEG_ADJ
    return f"{s} {_copula(s, rng)} {pick(rng, adjectives)}"


def _contrast(joiner: str, decider_last: bool) -> list[Template]:
    """Two templates (one per label): the second clause decides with but/yet/however, the main clause with
    despite/although/even though."""
    out = []
    for label in (0, 1):

        def make(rng: random.Random, label: int = label) -> tuple[str, int]:
            first, second = _clause(rng, 1 - label), _clause(rng, label)
            return joiner.format(first=first, second=second), label

        out.append(Template("contrast", label, make))
    return out


def _despite(label: int, lead: str) -> Template:
    def make(rng: random.Random) -> tuple[str, int]:
        np_ = pick(rng, NEG_NP if label else POS_NP)
        return f"{lead} {np_}, {_clause(rng, label)}", label

    return Template("contrast", label, make)


CONTRAST = [
    *_contrast("{first}, but {second}", True),
    *_contrast("{first}. But {second}", True),
    *_contrast("{first}, yet {second}", True),
    *_contrast("{first}; however, {second}", True),
    *_contrast("although {first}, {second}", False),
    *_contrast("even though {first}, {second}", False),
    *_contrast("{first} at first, but in the end {second}", True),
    *_contrast("sure, {first}, but {second}", True),
    _despite(1, "despite"),
    _despite(0, "despite"),
    _despite(1, "in spite of"),
    _despite(0, "in spite of"),
    *_contrast("while {first}, {second}", False),
    *_contrast("{first}. Still, {second}", True),
    _despite(1, "for all"),
    _despite(0, "for all"),
]


# ---------------------------------------------------------------------------------------------- intensifiers
def _intensified(label: int, words: list[str], shape: str) -> Template:
    def make(rng: random.Random) -> tuple[str, int]:
        s = _subj(rng)
        adj = pick(rng, POS_ADJ if label else NEG_ADJ)
        return shape.format(s=s, cop=_copula(s, rng), w=pick(rng, words), adj=adj, noun=pick(rng, FILM_NOUN)), label

    return Template("intensifiers", label, make)


INTENSIFIER_TEMPLATES = [
    _intensified(1, INTENSIFIERS, "{s} {cop} {w} {adj}"),
    _intensified(0, INTENSIFIERS, "{s} {cop} {w} {adj}"),
    _intensified(1, DIMINISHERS, "{s} {cop} {w} {adj}"),
    _intensified(0, DIMINISHERS, "{s} {cop} {w} {adj}"),
    _intensified(1, INTENSIFIERS, "a {w} {adj} {noun}"),
    _intensified(0, INTENSIFIERS, "a {w} {adj} {noun}"),
    _intensified(1, INTENSIFIERS, "{adj}, {w} {adj}"),
    _intensified(0, INTENSIFIERS, "{adj}, {w} {adj}"),
    _intensified(1, ["the most", "one of the most"], "{w} {adj} {noun} of the year"),
    _intensified(0, ["the most", "one of the most"], "{w} {adj} {noun} of the year"),
    _intensified(1, DIMINISHERS, "a {w} {adj} {noun}"),
    _intensified(0, DIMINISHERS, "a {w} {adj} {noun}"),
    _intensified(1, INTENSIFIERS, "I found {s} {w} {adj}"),
    _intensified(0, INTENSIFIERS, "I found {s} {w} {adj}"),
    _intensified(1, ["so very", "really really", "just so", "oh so"], "{s} {cop} {w} {adj}"),
    _intensified(0, ["so very", "really really", "just so", "oh so"], "{s} {cop} {w} {adj}"),
]


# ---------------------------------------------------------------------------------------------------- ratings
def _stars(rng: random.Random, label: int, out_of: int, digits: bool) -> str:
    if out_of == 5:
        value = rng.choice([0, 1, 1.5, 2] if label == 0 else [4, 4.5, 5])
    else:
        value = rng.choice([0, 1, 2, 3, 3.5] if label == 0 else [7.5, 8, 8.5, 9, 10])
    if value != int(value):
        return str(value) if digits or rng.random() < 0.5 else f"{NUMBER_WORDS[int(value)]} and a half"
    return str(int(value)) if digits or rng.random() < 0.5 else NUMBER_WORDS[int(value)]


RATING_LEADS = ["", "", "", "my rating: ", "verdict: ", "overall, ", "final score: ", "for me, ", "honestly, "]
RATING_TAILS = ["", "", "", " overall", " from this reviewer", " for me", " on reflection", " (no more, no less)"]


def _rating(label: int, shape: str, out_of: int) -> Template:
    def make(rng: random.Random) -> tuple[str, int]:
        n = _stars(rng, label, out_of, digits="/" in shape)
        unit = "star" if n in ("one", "1") else "stars"
        text = shape.format(n=n, unit=unit, s=_subj(rng))
        return pick(rng, RATING_LEADS) + text + pick(rng, RATING_TAILS), label

    return Template("ratings", label, make)


RATINGS = [
    _rating(1, "{n} {unit} out of five", 5),
    _rating(0, "{n} {unit} out of five", 5),
    _rating(1, "{n}/10", 10),
    _rating(0, "{n}/10", 10),
    _rating(1, "I give it {n} out of 10", 10),
    _rating(0, "I give it {n} out of 10", 10),
    _rating(1, "a solid {n}/10", 10),
    _rating(0, "a generous {n}/10", 10),
    _rating(1, "rating: {n}/5", 5),
    _rating(0, "rating: {n}/5", 5),
    _rating(1, "{n} {unit}, easily", 5),
    _rating(0, "{n} {unit}, and that is being kind", 5),
    _rating(1, "{n} {unit} from me", 5),
    _rating(0, "{n} {unit} from me", 5),
    _rating(1, "{n} out of 10, would watch again", 10),
    _rating(0, "{n} out of 10, would not watch again", 10),
    fixed("ratings", 0, "{zero|no|minus one|half a} stars{|, if I could}"),
    fixed("ratings", 1, "{two thumbs up|thumbs up|ten out of ten|full marks}"),
    fixed("ratings", 0, "{thumbs down|two thumbs down|a fail|no marks}"),
    fixed("ratings", 1, "an easy {five stars|10/10|ten|A+}"),
    fixed("ratings", 0, "grade: {F|D-|D|E}"),
    fixed("ratings", 1, "grade: {A|A+|A-}"),
    _rating(1, "{n} out of 5", 5),
    _rating(0, "{n} out of 5", 5),
    _rating(1, "{n} points out of ten", 10),
    _rating(0, "{n} points out of ten", 10),
    _rating(1, "{s} earns {n} {unit}", 5),
    _rating(0, "{s} earns {n} {unit}", 5),
]


# ------------------------------------------------------------------------------------------------------ irony
IRONY = [
    fixed("irony", 0, "about as much fun as {UNPLEASANT}"),
    fixed("irony", 0, "I want {DURATIONS} {back|of my life back}"),
    fixed("irony", 0, "{POS_ADJ}, if you {like|enjoy|love} {BORING_ACTIVITIES}"),
    fixed("irony", 0, "a masterpiece of {NEG_ABSTRACT}"),
    fixed("irony", 0, "the best part was {the end credits|the popcorn|leaving|the trailers}"),
    fixed("irony", 0, "a perfect cure for {insomnia|sleeplessness|a busy mind}"),
    fixed("irony", 0, "oh {great|wonderful|joy}, another {FILM_NOUN} about nothing"),
    fixed("irony", 0, "thanks for the {nap|headache|wasted evening}"),
    fixed("irony", 0, "I've had more fun {at the dentist|doing my taxes|in a lift|waiting for a bus}"),
    fixed("irony", 0, "{what a|such a} {great|fantastic|lovely} way to waste {DURATIONS}"),
    fixed("irony", 0, "{brilliant|genius|bravo}: {NEG_ADJ} from start to finish"),
    fixed("irony", 0, "the {highlight|high point} was when it {ended|finally stopped}"),
    fixed("irony", 1, "I hated how much I {loved|enjoyed|liked} it"),
    fixed("irony", 1, "my only complaint is that it {ended|had to end|was over so soon}"),
    fixed("irony", 1, "it ruined every other {FILM_NOUN} for me"),
    fixed("irony", 1, "{annoyingly|infuriatingly|unfairly|criminally} good"),
    fixed("irony", 1, "I'm still {mad|upset|sulking} that it's over"),
    fixed("irony", 1, "my {face|sides|cheeks} {hurt|ache} from laughing"),
    fixed("irony", 1, "I forgot {to eat my popcorn|to breathe|my phone existed}"),
    fixed("irony", 1, "damn you, {film|movie|ending}, for making me {cry|sob|tear up} in public"),
    fixed("irony", 1, "I expected to {hate|sneer at|sleep through} it and ended up {loving|adoring} it"),
    fixed("irony", 1, "warning: you will {want to see it twice|laugh out loud|need tissues}"),
    fixed("irony", 1, "I regret nothing, except {not seeing it sooner|waiting for the DVD}"),
    fixed("irony", 1, "{dangerously|ridiculously|stupidly} {enjoyable|entertaining|fun}"),
    fixed("irony", 1, "so much for {an early night|my plans to hate it|my low expectations}: I loved it"),
    fixed("irony", 1, "now I have to {buy the soundtrack|see it again|read the book}, thanks a lot"),
    fixed("irony", 1, "the {worst|only bad} thing about it is that it {ends|had to end|is only two hours long}"),
    fixed("irony", 1, "I {went in|walked in|sat down} a cynic and {came out|left|walked out} a fan"),
    fixed(
        "irony",
        0,
        "{congratulations|well done|hats off} to {SUBJECT} for "
        "{putting me to sleep|wasting my time|boring a whole theatre}",
    ),
    fixed("irony", 0, "if you {need a nap|love clichés|enjoy suffering}, this is the {FILM_NOUN} for you"),
    fixed(
        "irony", 0, "what a {thrill|joy|treat}: I {fell asleep|checked my phone|yawned} {twice|three times|throughout}"
    ),
    fixed("irony", 1, "I {cried|laughed} like an idiot and I'd do it again"),
    fixed("irony", 0, "I laughed {once|twice}, at the {trailer|credits|wrong moment}"),
    fixed("irony", 1, "I should hate {it|this}, but I {can't|don't|couldn't}"),
    fixed("irony", 0, "{Oscar-worthy|award-worthy}, if {they gave awards for boredom|there were a prize for tedium}"),
    fixed(
        "irony",
        1,
        "{sorry|apologies} to my {neighbours|friends|date}: I {screamed|laughed|cheered} all the way through",
    ),
    fixed("irony", 0, "{sure|oh yes}, {a real|such a} {masterpiece|triumph|classic}. {Not|NOT}"),
    fixed("irony", 1, "{ugh|argh}, {now I'm|I'm} {hooked|obsessed|in love}"),
]


# ------------------------------------------------------------------------------------------------- one-liners
ONE_LINERS = [
    fixed("one_liners", 1, "{loved it|loved every minute|what a ride|pure joy|a must-see}"),
    fixed("one_liners", 0, "{avoid|skip it|what a mess|awful|a total bore}"),
    fixed("one_liners", 1, "{INTENSIFIERS} {POS_ADJ}"),
    fixed("one_liners", 0, "{INTENSIFIERS} {NEG_ADJ}"),
    fixed("one_liners", 1, "{POS_ADJ} and {POS_ADJ}"),
    fixed("one_liners", 0, "{NEG_ADJ} and {NEG_ADJ}"),
    fixed("one_liners", 1, "{POS_NOUN}"),
    fixed("one_liners", 0, "{NEG_NOUN}"),
    fixed("one_liners", 1, "{two hours|time|money} well spent"),
    fixed("one_liners", 0, "{two hours|time|money} I will never get back"),
    fixed("one_liners", 1, "{see it|go see it|watch it} {now|twice|tonight}"),
    fixed("one_liners", 0, "{walked out|fell asleep|gave up} after {twenty minutes|an hour|the first act}"),
    fixed("one_liners", 1, "a {POS_ADJ} {FILM_NOUN}"),
    fixed("one_liners", 0, "a {NEG_ADJ} {FILM_NOUN}"),
    fixed("one_liners", 1, "{highly|warmly|strongly} recommended"),
    fixed("one_liners", 0, "{not|in no way|never} recommended"),
    fixed("one_liners", 1, "{best|funniest|finest} {FILM_NOUN} {in years|of the year|I have seen in ages}"),
    fixed("one_liners", 0, "{worst|dullest|silliest} {FILM_NOUN} {in years|of the year|I have seen in ages}"),
]

TEMPLATES: dict[str, list[Template]] = {
    "negation": NEGATION,
    "litotes": LITOTES,
    "contrast": CONTRAST,
    "intensifiers": INTENSIFIER_TEMPLATES,
    "ratings": RATINGS,
    "irony": IRONY,
    "one_liners": ONE_LINERS,
}


def template_split(capability: str) -> dict[str, list[Template]]:
    """The capability's templates, per split: the HOLDOUT_EVERY-th of each label is validation-only."""
    out: dict[str, list[Template]] = {"train": [], "validation": []}
    for label in (0, 1):
        same = [t for t in TEMPLATES[capability] if t.polarity == label]
        for index, template in enumerate(same):
            out["validation" if index % HOLDOUT_EVERY == HOLDOUT_EVERY - 1 else "train"].append(template)
    return out


LEADS = ["honestly, ", "well, ", "frankly, ", "in short: ", "so, ", "seriously, ", "okay, ", "my verdict: "]


def surface(text: str, rng: random.Random) -> str:
    """Casing and punctuation as people type them: sentence case mostly, sometimes lower case or shouting; a full
    stop, an exclamation mark, an ellipsis or nothing."""
    text = re.sub(r"\s+", " ", text).strip()
    if rng.random() < 0.2:
        text = pick(rng, LEADS) + text
    roll = rng.random()
    if roll < 0.65:
        text = text[0].upper() + text[1:]
    elif roll < 0.7 and len(text) < 40:
        text = text.upper()
    ending = rng.choices([".", "!", "...", "", "!!"], weights=[60, 15, 8, 14, 3])[0]
    if text[-1] not in ".!?":
        text += ending
    return text


def row_key(text: str) -> str:
    """What makes two rows the same row: lower case, letters, digits, '/' and single spaces."""
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9/ ]", "", text.lower())).strip()


def generate(
    rows_per_capability: int = 400, split: str = "train", seed: int = 20261202, exclude: frozenset[str] = frozenset()
) -> pd.DataFrame:
    """`rows_per_capability` distinct rows of each capability, half of each label, from the split's templates:
    columns text, label, source (= "capability"), capability. Deterministic for a seed. A row whose `row_key` is in
    `exclude` is never made (train.py passes the behavioural test set's rows, so that short stock phrases the
    templates can produce, like a two-word one-liner, never put a test row into training)."""
    if split not in ("train", "validation"):
        raise ValueError(f"split must be train or validation, not {split!r}")
    rng = random.Random(f"{seed}/{split}")
    rows: list[dict[str, object]] = []
    seen: set[str] = set()
    for capability in CAPABILITIES:
        templates = template_split(capability)[split]
        for label in (0, 1):
            pool = [t for t in templates if t.polarity == label]
            wanted, made, attempts = rows_per_capability // 2, 0, 0
            while made < wanted and attempts < wanted * 50:
                attempts += 1
                template = pool[attempts % len(pool)] if attempts <= len(pool) else rng.choice(pool)
                text, row_label = template.fill(rng)
                text = surface(text, rng)
                key = row_key(text)
                if key in seen or key in exclude:
                    continue
                seen.add(key)
                rows.append({"text": text, "label": row_label, "source": SOURCE, "capability": capability})
                made += 1
    frame = pd.DataFrame(rows, columns=["text", "label", "source", "capability"])
    return frame.sample(frac=1.0, random_state=seed % (2**32)).reset_index(drop=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows-per-capability", type=int, default=400)
    parser.add_argument("--split", choices=("train", "validation"), default="train")
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--out", type=Path, default=None, help="a CSV file; default: print a sample")
    args = parser.parse_args(argv)
    frame = generate(args.rows_per_capability, args.split, args.seed)
    if args.out:
        frame.to_csv(args.out, index=False)
        print(f"wrote {len(frame)} rows to {args.out}")
    else:
        print(frame.groupby(["capability", "label"]).size().to_string())
        print(frame.head(40).to_string())


if __name__ == "__main__":
    main()
