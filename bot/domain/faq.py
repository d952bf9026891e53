"""The FAQ catalogue: bilingual questions and answers by topic, validated, and searchable.

Operators edit `bot/content/faq.json`; it is read and checked at start-up, and `FaqLibrary.reload`
swaps in a new version only when the whole file is valid. Answers may hold the placeholders
`{reception_schedule}` and `{municipality}`, filled per locale from configuration.

`FaqCatalog.search` finds entries for a question typed the way people type in chats, in Kyrgyz
or Russian, in Cyrillic or Latin letters. Every entry is indexed with the words of both
languages (folded: lower case, Kyrgyz letters typed as Russian look-alikes unified, soft signs
and punctuation dropped); a word typed in Latin letters is spelled in Cyrillic first
("kantip aryz beremin"). A typed word and an indexed word match when they are identical, are
the same word with other endings (a stem, then only Kyrgyz or Russian endings: "кабар" is not
"кабарлоо"), or differ by one typo in the stem; the closer the match, the more it counts.
`bot/content/faq_search.json` maps citizens' words to the entries' words (synonyms), and names
small talk (thanks, greetings, chit-chat), which finds no entry, and the words that state a
problem ("суу жок"). Entries are ranked with a BM25-like score: each typed word adds its idf
times a saturated, field-weighted match strength (question and keywords weigh six times the
answer). Common question words ("как", "кантип") only break ties. An entry is offered only
when its strong matches pass a threshold, so unrelated text finds nothing.
"""

from __future__ import annotations

import json
import math
import re
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path

from bot.config import SUPPORTED_LOCALES
from bot.dialogs.matching import fold

LOCALES = SUPPORTED_LOCALES
MAX_QUESTION = 200
MAX_ANSWER = 2000
MAX_TITLE = 60
MAX_ID = 40
# Placeholders an answer may use; the values come from configuration.
KNOWN_PLACEHOLDERS = ("reception_schedule", "municipality", "help_phones")

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class FaqError(ValueError):
    """Broken FAQ content; the message names the entry id."""


@dataclass(frozen=True)
class FaqTopic:
    """A group of entries, shown as one menu button."""

    id: str
    titles: dict[str, str]

    def title(self, locale: str) -> str:
        """The title in `locale`."""
        return self.titles[locale]


@dataclass(frozen=True)
class FaqEntry:
    """One question with its answer, in every locale."""

    id: str
    topic: str
    questions: dict[str, str]
    answers: dict[str, str]
    keywords: dict[str, tuple[str, ...]]
    sources: tuple[str, ...]

    def question(self, locale: str) -> str:
        """The question in `locale`."""
        return self.questions[locale]

    def answer(self, locale: str) -> str:
        """The answer in `locale`, placeholders already filled."""
        return self.answers[locale]


# --- search: words ----------------------------------------------------------------------------

# Question words, pronouns, particles and politeness in both languages, written after `fold`
# (ө→о, ү→у, ң→н, ё→е). They say how something is asked, not what about.
_STOP_TEXT = """
    как что где когда куда откуда почему зачем кто кого кому чем чём какой какая какое какие
    каким какую каков сколько можно ли либо мне меня мой моя моё моего моей я вы вам
    вас ваш ваша ваше ваши он она оно они его её ее их им нам нас наш мы ты тебе себе свой
    свою своего своей у в во на с со к ко по за из о об обо от до для при без под над про и
    а но или не ни нет да это этот эта эти это то тот та те так же бы уже ещё еще все всё
    весь вся есть был была было были будет будут быть буду надо нужно нужен нужна нужны
    хочу хотел хотела хотим хотят могу может могут мочь подскажите скажите расскажите
    пожалуйста здравствуйте добрый привет спасибо помогите вопрос если тогда чтобы
    который которая которые там тут здесь сейчас очень просто
    эмне эмнеге эмнени эмнеден кантип кандай кандайча кайда кайдан кайсы качан ким кимге
    кимди кимден канча барбы бар жокпу жок керек керекпи болобу болот болмок болсо мумкун
    мумкунбу мен менин мага мени менден сен сиз сизге сиздин сиздер биз бизге биздин ал алар
    анын ага аны бул бу ушул ошол ошо жана же да дагы деле менен учун үчүн деп эле го
    делать сделать дела сам сама само сами которого которое котором которым которых
    кандайсын кандайсыз саламатсызбы салам саламатчылык рахмат суранам айтыңызчы айтып
    бериңизчи бериниз
    билгим келет кылам кылып болуп экен эмес ооба
"""
_SOFT_SIGNS = str.maketrans("", "", "ьъ")  # often left out when typing, so never compared


def _search_fold(text: str) -> str:
    """`fold`, then without soft and hard signs: "подать" and "подат" are one word."""
    return fold(text).translate(_SOFT_SIGNS)


_STOP_WORDS = frozenset(_search_fold(word) for word in _STOP_TEXT.split())

_MAX_QUERY = 500  # characters of a query that are read
_MIN_QUERY = 3  # a folded query shorter than this finds nothing
_MIN_WORD = 2  # shorter words are ignored


def _words(folded: str) -> list[str]:
    """The words of a folded text, of at least two characters."""
    return [word for word in folded.split() if len(word) >= _MIN_WORD]


# --- search: Latin letters --------------------------------------------------------------------

# Kyrgyz and Russian typed in Latin letters, as on phones: "kantip aryz beremin", "srok
# rassmotreniya zhaloby". Longest spellings first; "y", "i", "e" and "ng" depend on their place.
_LATIN_GROUPS = (
    ("shch", "щ"),
    ("sch", "щ"),
    ("zh", "ж"),
    ("kh", "х"),
    ("ch", "ч"),
    ("sh", "ш"),
    ("gh", "г"),
    ("ck", "к"),
    ("yo", "е"),
    ("yu", "ю"),
    ("ya", "я"),
    ("ye", "е"),
)
_LATIN_LETTERS = dict(
    zip("abdfghjklmnopqrstuvwzöüıñçşğäé", "абдфгхжклмнопкрстуввзоуынчшгэе", strict=True)
)
_LATIN_VOWELS = frozenset("aeiouyöüı")
_LATIN_APOSTROPHE = re.compile(r"(?<=[a-z])['’`](?=[a-z])", re.IGNORECASE)
_MAX_VARIANTS = 8


def _latin_choices(word: str) -> list[list[str]]:
    """Per written letter group, the Cyrillic spellings it may stand for, likeliest first."""
    choices: list[list[str]] = []
    i = 0
    while i < len(word):
        rest = word[i:]
        before = word[i - 1] if i else ""
        after = word[i + 1] if i + 1 < len(word) else ""
        group = next((g for g in _LATIN_GROUPS if rest.startswith(g[0])), None)
        if group:
            choices.append([group[1]])
            i += len(group[0])
            continue
        letter = word[i]
        if letter == "y":
            # after a vowel and not before one: й (moy, nayti); otherwise ы (aryz, zhaloby, aiyl)
            glide = before in _LATIN_VOWELS and before != "i" and after not in _LATIN_VOWELS
            choices.append(["й"] if glide else ["ы"])
        elif letter == "i":
            glide = before in _LATIN_VOWELS and before != "i" and after not in "aeou"
            choices.append(["й", "и"] if glide else ["и"])  # kaida, aitsam
        elif letter == "e":
            choices.append(["э", "е"] if not before else ["е"])  # emne, eto / esli
        elif letter == "n" and after == "g":
            following = word[i + 2] if i + 2 < len(word) else ""
            choices.append(["нг", "н"] if following in _LATIN_VOWELS else ["н", "нг"])
            i += 2
            continue
        elif letter == "t" and after == "s":
            choices.append(["ц", "тс"])
            i += 2
            continue
        elif letter == "c":
            choices.append(["ц", "к"])
        elif letter == "x":
            choices.append(["х", "кс"])
        else:
            choices.append([_LATIN_LETTERS.get(letter, letter)])
        i += 1
    return choices


def latin_variants(word: str) -> list[str]:
    """Cyrillic spellings of a word typed in Latin letters, likeliest first (a few at most)."""
    variants = [""]
    for options in _latin_choices(word.casefold()):
        variants = [v + option for v in variants for option in options][:_MAX_VARIANTS]
    return variants


def _is_latin(word: str) -> bool:
    return any("a" <= ch <= "z" or ch in _LATIN_LETTERS for ch in word) and not any(
        "а" <= ch <= "я" or ch in "ёөүң" for ch in word
    )


# --- search: word endings ---------------------------------------------------------------------

# Endings after `_search_fold`. A Kyrgyz word takes a chain of them (даттануу-лар-ым-ды), a
# Russian word one (with -ся). Derivations are left out on purpose: кабар (news) is not кабарлоо
# (to report), аба (air) not абалы (its status), большое not большинство.
_KY_ENDINGS_TEXT = """
    лар лер лор дар дер дор тар тер тор
    м ым им ум н ын ин ун ы и у сы си су ныз ыныз иниз унуз быз ыбыз ибиз убуз
    нын нин нун дын дин дун тын тин тун га ге го ка ке ко а е о на не но
    ны ни ну ды ди ду ты ти ту да де до та те то нда нде ндо
    дан ден дон тан тен тон нан нен нон ндан нден ндон
    дагы деги догу тагы теги тогу ндагы ндеги ндогу ча че чо
    мын мин мун бын бин бун пын пин пун сын син сун сыз сиз суз биз буз пыз пиз пуз
    бы би бу пы пи пу чы чи чу
    ат ет от йт ам ем ом йм абыз ебиз обуз йбуз асыз есиз осуз йсыз й
    дык дик дук тык тик тук ган ген гон кан кен кон ып ип уп п
    са се со сак сек сок ба бе бо па пе по бай бей бой пай пей пой
    мак мек мок гыла гиле гула гуло кыла киле кула куло уу оо ш ыш иш уш
"""
_RU_ENDINGS_TEXT = """
    а я о е ы и у ю й ой ей ом ем ам ям ах ях ами ями ов ев ия ии ию ие ием иям иях ией
    ий ый ая яя ое ее ые ого его ому ему ым им ых их ыми ими ую юю
    т ат ят ет ит ут ют ыт от ти еш иш ем им ете ите ает яет ают яют ует уют аем аете
    л ла ло ли ал ала ало али ял яла ели ел ела ил ила ило или ул ыл йте
    ение ения ению ением ении ание ания анию анием ании н на но ны ен ан
"""
_KY_ENDINGS = frozenset(_KY_ENDINGS_TEXT.split())
_KY_PLURAL = frozenset(_KY_ENDINGS_TEXT.split()[:9])  # лар лер ... тор
_RU_ENDINGS = frozenset(_RU_ENDINGS_TEXT.split())
_KY_LONGEST = max(map(len, _KY_ENDINGS))
_KY_CHAIN = 4  # endings one Kyrgyz word may take in a row
_RU_REFLEXIVE = ("ся", "с")
_VOWELS = frozenset("аеиоуыэюя")  # after `fold`: ө and ү are о and у
_VOICED = {"к": "г", "п": "б", "г": "к", "б": "п"}  # салык/салыгы: к voiced before a suffix
_MIN_STEM = 3


@lru_cache(maxsize=65536)
def _ky_ending(rest: str, before: str) -> bool:
    """Whether `rest` is a chain of Kyrgyz endings (or nothing) after the letter `before`. An
    ending that begins with a vowel never follows a vowel (Kyrgyz has no such meeting), and the
    plural comes first."""
    reached = {0}
    for _step in range(_KY_CHAIN):
        reached |= {
            start + n
            for start in reached
            if not (
                rest[start : start + 1] in _VOWELS
                and (rest[start - 1 : start] or before) in _VOWELS
            )
            for n in range(1, min(_KY_LONGEST, len(rest) - start) + 1)
            if rest[start : start + n] in _KY_ENDINGS
            and (start == 0 or rest[start : start + n] not in _KY_PLURAL)
        }
        if len(rest) in reached:
            return True
    return len(rest) in reached


@lru_cache(maxsize=65536)
def _ru_ending(rest: str) -> bool:
    """Whether `rest` is one Russian ending (or nothing), maybe with -ся."""
    for reflexive in _RU_REFLEXIVE:
        if rest.endswith(reflexive) and (rest[: -len(reflexive)] in _RU_ENDINGS):
            return True
    return not rest or rest in _RU_ENDINGS


def _endings(a: str, b: str, before: str, *, short: bool = False) -> bool:
    """Whether two word tails are both endings of one language, after a stem ending in the
    letter `before`. After a `short` stem (three letters) one word must be the bare stem in
    Kyrgyz (суу/суунун): with ө/ү typed as о/у, сүрөт (photo) reads "сурот", and сура-ды (asked)
    must not be taken for its form."""
    if _ru_ending(a) and _ru_ending(b):
        return True
    if short and a and b:
        return False
    return _ky_ending(a, before) and _ky_ending(b, before)


def _same_stem(a: str, b: str, shared: int) -> bool:
    """Whether `a` and `b` (sharing `shared` first letters) are one word with other endings:
    a stem of three letters or more, then endings only; the stem's last letters may belong to
    the ending (слушания/слушаниях) or its к/п be voiced (салык/салыгы)."""
    if shared < _MIN_STEM:
        return False
    for stem in range(shared, max(_MIN_STEM, shared - 3) - 1, -1):
        if _endings(a[stem:], b[stem:], a[stem - 1], short=stem <= _MIN_STEM):
            return True
    rest_a, rest_b = a[shared:], b[shared:]
    return bool(
        rest_a
        and rest_b
        and _VOICED.get(rest_a[0]) == rest_b[0]
        and _endings(rest_a[1:], rest_b[1:], rest_a[0])
    )


def same_word(a: str, b: str) -> bool:
    """Whether two folded words are the same word, maybe with other endings."""
    return a == b or _same_stem(a, b, _shared(a, b))


def _shared(a: str, b: str, start: int = 0) -> int:
    """How many first letters `a` and `b` share (the first `start` ones are known to be)."""
    end = min(len(a), len(b))
    while start < end and a[start] == b[start]:
        start += 1
    return start


def _one_edit(a: str, b: str) -> bool:
    """Whether `a` and `b` differ by at most one insertion, deletion, substitution or swap."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    i = _shared(a, b)
    if la == lb:
        if a[i + 1 :] == b[i + 1 :]:
            return True  # substitution
        return i + 1 < la and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2 :] == b[i + 2 :]
    if la > lb:
        return a[i + 1 :] == b[i:]
    return a[i:] == b[i + 1 :]


def _typo_of(typed: str, known: str) -> bool:
    """Whether `typed` is `known` with one typo in its stem (four letters or more) and maybe
    other endings: "пенсея" for "пенсия", "спарвка" for "справку"."""
    for j in range(len(known), _TYPO_STEM - 1, -1):
        for i in (j, j - 1, j + 1):
            if (
                _TYPO_STEM <= i <= len(typed)
                and _one_edit(typed[:i], known[:j])
                and _endings(typed[i:], known[j:], known[j - 1])
            ):
                return True
    return False


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


# How strongly a typed word matches an indexed one.
_EXACT = 1.0
_SAME_STEM = 0.8  # the same word with other endings (see `_same_stem`)
_TYPO = 0.6  # one typo in the stem, for a word not known in any form
_LONG_STEM = 0.5  # six first letters or more shared, then more than endings differ
_SHORT_STEM = 0.4  # a three-letter root with endings on both words (see `_endings`): weak
_RELATED = 0.3  # a shorter shared beginning: only helps to rank
_STRONG = 0.5  # matches at least this strong find entries; weaker ones only help rank them
_LONG_SHARED = 6
_RELATED_REST = 3  # letters after three or four shared ones, for a related word
_TYPO_MIN = 5  # a typed word needs this many letters before a typo is forgiven
_TYPO_STEM = 5  # ... and the stem with the typo this many


def _stem_strength(typed: str, known: str, shared: int) -> float:
    """How well two different words that share their first `shared` letters match, or 0."""
    if _same_stem(typed, known, shared):
        return _SAME_STEM
    if shared == _MIN_STEM and _endings(typed[shared:], known[shared:], typed[shared - 1]):
        return _SHORT_STEM  # a three-letter Kyrgyz root, both words with endings: жаз-ам/жаз-уу
    if shared >= _LONG_SHARED:
        return _LONG_STEM
    longest_rest = max(len(typed), len(known)) - shared
    if shared >= 5 or (shared >= _MIN_STEM and longest_rest <= _RELATED_REST):
        return _RELATED
    return 0.0


# --- search: the citizen's words (synonyms, small talk, problems) ----------------------------

SMALL_TALK_KINDS = ("thanks", "greeting", "chat")
_NEGATED_VERB = re.compile(r"[бп][аео](й|йт|йм|йсыз|ган|ды|бы)$")  # иштебейт, келбеди


def _phrases(where: str, raw: object) -> tuple[tuple[str, ...], ...]:
    """Each locale's list of words or phrases, folded, as word tuples."""
    if not isinstance(raw, dict):
        raise FaqError(f"{SEARCH_WORDS_FILE}: {where}: must be an object with a list per locale")
    phrases = []
    for locale in LOCALES:
        items = raw.get(locale, [])
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise FaqError(f"{SEARCH_WORDS_FILE}: {where}: {locale!r} must be a list of strings")
        phrases += [tuple(_words(_search_fold(item))) for item in items]
    return tuple(p for p in phrases if p)


@dataclass(frozen=True)
class SearchWords:
    """What the search knows of the citizen's words: synonyms, small talk, stated problems.

    Read from `bot/content/faq_search.json` (see its `_about`). A typed word is a listed one
    when it is the same word, maybe with other endings (`_is`)."""

    synonyms: dict[tuple[str, ...], tuple[tuple[str, ...], ...]]  # key -> its targets' words
    talk: dict[str, tuple[tuple[str, ...], ...]]
    fillers: frozenset[str]
    subjects: tuple[tuple[str, ...], ...]
    markers: tuple[tuple[str, ...], ...]
    issues: tuple[tuple[str, ...], ...]
    hints: tuple[tuple[str, ...], ...] = ()  # searched too when a problem is stated

    def known(self) -> set[str]:
        """Every word written here, for choosing among Latin spellings."""
        phrases = [*self.synonyms, *self.subjects, *self.markers, *self.issues, *self.hints]
        phrases += [target for targets in self.synonyms.values() for target in targets]
        phrases += [p for kind in self.talk.values() for p in kind]
        return {w for p in phrases for w in p} | set(self.fillers)

    def expansions(self, words: list[str]) -> list[tuple[str, ...]]:
        """Per typed word, the entries' words its synonyms stand for (one match of them counts);
        then one group per target of each phrase found (its words in any order: "нет ответа"
        in "ответа уже месяц нет")."""
        singles = [
            tuple(
                dict.fromkeys(
                    w for key in self._hits(word) for t in self.synonyms.get((key,), ()) for w in t
                )
            )
            for word in words
        ]
        typed = self._all_hits(words)
        groups = [
            target
            for phrase, targets in self.synonyms.items()
            if len(phrase) > 1 and typed.issuperset(phrase)
            for target in targets
        ]
        return singles + groups

    def small_talk(self, words: list[str]) -> str | None:
        """ "thanks", "greeting" or "chat" when the words are only that, else None."""
        kinds: set[str] = set()
        position = 0
        while position < len(words):
            kind, length = self._talk_at(words, position)
            if kind is None:
                word = words[position]
                if word not in self.fillers and word not in _STOP_WORDS and not word.isdigit():
                    return None
            else:
                kinds.add(kind)
            position += length
        return next((kind for kind in SMALL_TALK_KINDS if kind in kinds), None)

    def _talk_at(self, words: list[str], position: int) -> tuple[str | None, int]:
        """The small-talk kind of the longest phrase at `position`, and its length in words."""
        best: tuple[str | None, int] = (None, 1)
        for first in self._hits(words[position]):
            for kind, phrase in self._talk_by_first.get(first, ()):
                if len(phrase) >= best[1] and self._starts(words, position, phrase):
                    best = (kind, len(phrase))
        return best

    def states_problem(self, words: list[str]) -> bool:
        """Whether the words state a problem to fix: "суу жок", "свет не горит", "яма"."""
        hits = self._all_hits(words)
        if any(self._find(words, hits, issue) for issue in self.issues):
            return True
        subject = any(self._find(words, hits, s) for s in self.subjects)
        marker = any(self._find(words, hits, m) for m in self.markers) or any(
            _NEGATED_VERB.search(w) for w in words
        )
        return subject and marker

    def _starts(self, words: list[str], position: int, phrase: tuple[str, ...]) -> bool:
        end = position + len(phrase)
        return end <= len(words) and all(
            p in self._hits(w) for w, p in zip(words[position:end], phrase, strict=True)
        )

    def _find(self, words: list[str], hits: frozenset[str], phrase: tuple[str, ...]) -> bool:
        """Whether the phrase is in the words (`hits`: the listed words they are)."""
        if not hits.issuperset(phrase):
            return False
        return len(phrase) == 1 or any(
            self._starts(words, i, phrase) for i in range(len(words) - len(phrase) + 1)
        )

    def _all_hits(self, words: list[str]) -> frozenset[str]:
        return frozenset().union(*(self._hits(word) for word in words))

    def _hits(self, word: str) -> frozenset[str]:
        """The listed words that a typed word is (remembered)."""
        cache = self._hit_cache
        hits = cache.get(word)
        if hits is None:
            candidates = self._listed_by_start.get(word[:_MIN_STEM], ())
            hits = frozenset(listed for listed in candidates if _is(word, listed))
            if len(cache) >= _MATCH_CACHE:
                cache.clear()
            cache[word] = hits
        return hits

    @cached_property
    def _hit_cache(self) -> dict[str, frozenset[str]]:
        return {}

    @cached_property
    def _listed_by_start(self) -> dict[str, tuple[str, ...]]:
        """Every listed word by its first three letters (a shorter word by itself)."""
        by_start: dict[str, set[str]] = defaultdict(set)
        phrases = [*self.synonyms, *self.subjects, *self.markers, *self.issues]
        phrases += [p for kind in self.talk.values() for p in kind]
        for word in {w for p in phrases for w in p}:
            by_start[word[:_MIN_STEM]].add(word)
        return {start: tuple(words) for start, words in by_start.items()}

    @cached_property
    def _talk_by_first(self) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
        """Small-talk phrases by their first word: word -> (kind, phrase)."""
        by_first: dict[str, list[tuple[str, tuple[str, ...]]]] = defaultdict(list)
        for kind, phrases in self.talk.items():
            for phrase in phrases:
                by_first[phrase[0]].append((kind, phrase))
        return dict(by_first)


def _is(typed: str, listed: str) -> bool:
    """A typed word is a listed one, maybe with other endings, not a shorter word (арыз is not
    the listed арызым); listed words of two letters match only exactly."""
    return typed == listed or (
        len(listed) >= _MIN_STEM and len(typed) >= len(listed) - 1 and same_word(typed, listed)
    )


def parse_search_words(data: object) -> SearchWords:
    """Validate `faq_search.json` (parsed); FaqError names the broken part."""
    if not isinstance(data, dict):
        raise FaqError("faq_search.json: must be an object")
    synonyms: dict[tuple[str, ...], tuple[tuple[str, ...], ...]] = {}
    raw = data.get("synonyms", {})
    for locale in LOCALES:
        table = raw.get(locale, {}) if isinstance(raw, dict) else None
        if not isinstance(table, dict):
            raise FaqError(f"faq_search.json: synonyms in {locale!r} must be an object")
        for word, targets in table.items():
            key = tuple(_words(_search_fold(word)))
            if not key or not isinstance(targets, list) or not targets:
                raise FaqError(f"faq_search.json: synonym {word!r} needs a list of words")
            if not all(isinstance(t, str) and _words(_search_fold(t)) for t in targets):
                raise FaqError(f"faq_search.json: synonym {word!r}: targets must be words")
            folded = tuple(tuple(_words(_search_fold(t))) for t in targets)
            synonyms[key] = synonyms.get(key, ()) + folded
    talk_raw = data.get("small_talk", {})
    if not isinstance(talk_raw, dict) or set(talk_raw) - set(SMALL_TALK_KINDS):
        raise FaqError(f"faq_search.json: small_talk kinds are {', '.join(SMALL_TALK_KINDS)}")
    talk = {k: _phrases(f"small_talk {k}", talk_raw.get(k, {})) for k in SMALL_TALK_KINDS}
    problems = data.get("problems", {})
    if not isinstance(problems, dict):
        raise FaqError("faq_search.json: problems must be an object")
    fillers = frozenset(w for p in _phrases("fillers", data.get("fillers", {})) for w in p)
    return SearchWords(
        synonyms=synonyms,
        talk=talk,
        fillers=fillers,
        subjects=_phrases("problems subjects", problems.get("subjects", {})),
        markers=_phrases("problems markers", problems.get("markers", {})),
        issues=_phrases("problems issues", problems.get("issues", {})),
        hints=_phrases("problems hints", problems.get("hints", {})),
    )


def load_search_words(path: Path | None = None) -> SearchWords:
    """Read `faq_search.json` (`path`, else the built-in one)."""
    try:
        if path is not None:
            text = Path(path).read_text(encoding="utf-8")
        else:
            text = (resources.files("bot.content") / SEARCH_WORDS_FILE).read_text(encoding="utf-8")
        return parse_search_words(json.loads(text))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FaqError(f"{SEARCH_WORDS_FILE}: cannot be read: {error}") from error


SEARCH_WORDS_FILE = "faq_search.json"


@lru_cache(maxsize=1)
def builtin_search_words() -> SearchWords:
    """The built-in `faq_search.json`, read once."""
    return load_search_words()


# --- search: the index ------------------------------------------------------------------------

# Field weights (BM25F style) and saturation.
_FIELD_WEIGHTS = (3.0, 3.0, 0.5)  # question, keywords, answer
_ANSWER = 2
_K1 = 1.2

# Scores are counted in units of one word found in the question of exactly one entry (its idf),
# so the threshold means the same in a catalogue of 5 entries and of 50.
_MIN_SCORE = 0.8  # below this an entry is not offered at all
_RELATIVE_CUTOFF = 0.3  # nor when it scores under this share of the best entry
_HINT = 0.4  # how strongly a hint matches, at most: under _STRONG, it never finds an entry
_STOP_BONUS = 0.1  # per typed stop word in an entry's question or keywords: a tie-breaker
_MATCH_CACHE = 4096  # typed words whose matches an index remembers

_LAST = "\U0010ffff"  # sorts after every letter: prefix + _LAST bounds the words with that prefix


def _frozen(fields: tuple[set[int], ...]) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(sorted(positions)) for positions in fields)


def _span(words: list[str], prefix: str, low: int = 0, high: int | None = None) -> tuple[int, int]:
    """The slice of a sorted word list (within low:high) that holds the words with `prefix`."""
    high = len(words) if high is None else high
    low = bisect_left(words, prefix, low, high)
    return low, bisect_left(words, prefix + _LAST, low, high)


class _Index:
    """Search structures over a catalogue's entries, built once."""

    def __init__(self, entries: tuple[FaqEntry, ...]) -> None:
        self.size = len(entries)
        self.unit = self.idf(1)
        # word -> the entry positions it occurs in, per field (question, keywords, answer);
        # stop words apart, and only from questions and keywords
        found: dict[str, tuple[set[int], set[int], set[int]]] = {}
        stops: dict[str, tuple[set[int], set[int], set[int]]] = {}
        folded: dict[str, list[str]] = {}  # a chunk between spaces -> its words, folded once

        def words_of(text: str) -> list[str]:
            words = []
            for chunk in text.split():
                if chunk not in folded:
                    folded[chunk] = _words(_search_fold(chunk))
                words += folded[chunk]
            return words

        for position, entry in enumerate(entries):
            fields = (
                [entry.questions[locale] for locale in LOCALES],
                [word for locale in LOCALES for word in entry.keywords.get(locale, ())],
                [entry.answers[locale] for locale in LOCALES],
            )
            for field, texts in enumerate(fields):
                for text in texts:
                    for word in words_of(text):
                        if word not in _STOP_WORDS:
                            places = found.setdefault(word, (set(), set(), set()))
                        elif field != _ANSWER:
                            places = stops.setdefault(word, (set(), set(), set()))
                        else:
                            continue
                        places[field].add(position)
        self.postings = {word: _frozen(fields) for word, fields in found.items()}
        self.stop_postings = {word: frozenset().union(*fields) for word, fields in stops.items()}
        self.words = sorted(self.postings)  # sorted, for the words that begin alike
        # the first 5..7 letters of words, also with one letter deleted -> those beginnings
        beginnings = {word[:n] for word in self.words for n in range(5, min(len(word), 7) + 1)}
        typo_keys: dict[str, list[str]] = defaultdict(list)
        for beginning in beginnings:
            for key in (beginning, *_deletions(beginning)):
                typo_keys[key].append(beginning)
        self.typo_keys = dict(typo_keys)
        self._matches: dict[str, dict[str, float]] = {}

    def idf(self, matched: int) -> float:
        """Inverse document frequency of a word found in `matched` entries (BM25's form)."""
        return math.log(1.0 + (self.size - matched + 0.5) / (matched + 0.5))

    def matches(self, typed: str) -> dict[str, float]:
        """Indexed words that match a typed word, with the strength of each match."""
        found = self._matches.get(typed)
        if found is None:
            found = self._find(typed)
            if len(self._matches) >= _MATCH_CACHE:
                self._matches.clear()
            self._matches[typed] = found
        return found

    def _find(self, typed: str) -> dict[str, float]:
        found: dict[str, float] = {}
        if typed in self.postings:
            found[typed] = _EXACT
        words = self.words
        if len(typed) >= _MIN_STEM:
            low, high = _span(words, typed[:_MIN_STEM])
            for word in words[low:high]:
                if word != typed:
                    strength = _stem_strength(typed, word, _shared(typed, word, _MIN_STEM))
                    if strength:
                        found[word] = strength
        if len(typed) >= _TYPO_MIN and not any(s >= _SAME_STEM for s in found.values()):
            # not known in any form: perhaps a typo in its first six letters
            stem = typed[:6]
            beginnings: set[str] = set()
            for key in (stem, *_deletions(stem)):
                beginnings.update(self.typo_keys.get(key, ()))
            for beginning in beginnings:
                if abs(len(beginning) - len(stem)) <= 1 and _one_edit(stem, beginning):
                    low, high = _span(words, beginning)
                    for word in words[low:high]:
                        if found.get(word, 0.0) < _TYPO and _typo_of(typed, word):
                            found[word] = _TYPO
        return found

    def _add(
        self, best: tuple[dict[int, float], ...], found: dict[int, float], ranked: dict[int, float]
    ) -> None:
        """Add one typed word's BM25F share to each entry, from its best match per field."""
        in_question, in_keywords, in_answer = best
        titled = in_question.keys() | in_keywords.keys()
        matched = titled | in_answer.keys()
        if not matched:
            return
        # Answers mention the common terms everywhere: where questions or keywords hold the
        # word, its rarity among them is what tells.
        idf_titled = self.idf(len(titled)) / self.unit if titled else 0.0
        idf_any = self.idf(len(matched)) / self.unit
        q_weight, k_weight, a_weight = _FIELD_WEIGHTS
        for position in matched:
            q = in_question.get(position, 0.0)
            k = in_keywords.get(position, 0.0)
            a = in_answer.get(position, 0.0)
            weighted = q_weight * q + k_weight * k + a_weight * a
            share = (idf_titled if q or k else idf_any) * weighted * (_K1 + 1.0) / (weighted + _K1)
            ranked[position] = ranked.get(position, 0.0) + share
            if q >= _STRONG or k >= _STRONG or a >= _STRONG:
                found[position] = found.get(position, 0.0) + share

    def scores(
        self,
        typed: list[tuple[str, ...]],
        stops: list[str],
        hints: tuple[tuple[str, ...], ...] = (),
    ) -> tuple[dict[int, float], dict[int, float]]:
        """Entry position -> its score from strong matches, and -> its score for ranking.

        `typed`: per typed word, that word and the words its synonyms stand for; the best
        match among them counts once. Only strong matches find an entry. The ranking score adds
        the weak matches and a tie-breaker for the typed stop words that the entry's question or
        keywords hold ("куда", "кантип"). `hints` are searched like typed words but weakly:
        they only help to rank.
        """
        found: dict[int, float] = {}
        ranked: dict[int, float] = {}
        units = [(alternatives, 1.0) for alternatives in typed]
        for alternatives, weight in units + [(hint, _HINT) for hint in hints]:
            matched: dict[str, float] = {}
            for word in alternatives:
                for known, strength in self.matches(word).items():
                    matched[known] = max(matched.get(known, 0.0), strength * weight)
            # the matched words by strength, weakest first
            by_strength: dict[float, list[str]] = {}
            for known, strength in matched.items():
                by_strength.setdefault(strength, []).append(known)
            # per field: entry position -> the best match strength there
            best: tuple[dict[int, float], ...] = ({}, {}, {})
            for strength in sorted(by_strength):
                for field, entries in enumerate(best):
                    positions = set().union(
                        *(self.postings[w][field] for w in by_strength[strength])
                    )
                    entries.update(dict.fromkeys(positions, strength))  # stronger ones last
            self._add(best, found, ranked)
        for word in stops:
            for position in self.stop_postings.get(word, ()):
                if position in found:
                    ranked[position] += _STOP_BONUS
        return found, ranked


# --- the catalogue ----------------------------------------------------------------------------


class FaqCatalog:
    """Validated topics and entries, with lookups and search. Build it with `parse_faq`."""

    def __init__(
        self,
        topics: tuple[FaqTopic, ...],
        entries: tuple[FaqEntry, ...],
        words: SearchWords | None = None,
    ) -> None:
        self.topics = topics
        self.entries = entries
        self.words = words or builtin_search_words()
        self._topics = {topic.id: topic for topic in topics}
        self._entries = {entry.id: entry for entry in entries}
        self._index = _Index(entries)
        self._known = set(self._index.postings) | _STOP_WORDS | self.words.known()

    def topic(self, topic_id: str) -> FaqTopic | None:
        """The topic with this id, or None."""
        return self._topics.get(topic_id)

    def entry(self, entry_id: str) -> FaqEntry | None:
        """The entry with this id, or None."""
        return self._entries.get(entry_id)

    def entries_in(self, topic_id: str) -> list[FaqEntry]:
        """The entries of a topic, in file order."""
        return [entry for entry in self.entries if entry.topic == topic_id]

    def typed_words(self, text: str) -> list[str]:
        """The words of typed text as the search reads them (see `typed_words`)."""
        return typed_words(text, self._known)

    def small_talk(self, text: str) -> str | None:
        """ "thanks", "greeting" or "chat" when the text is only that, else None."""
        return self.words.small_talk(self.typed_words(text))

    def states_problem(self, text: str) -> bool:
        """Whether the text states a problem to fix ("суу жок", "свет не горит третий день")."""
        return self.words.states_problem(self.typed_words(text))

    def search(self, query: str, limit: int = 3) -> list[FaqEntry]:
        """Up to `limit` entries that answer a typed question, best first; [] when none fits,
        and for small talk."""
        words = list(dict.fromkeys(self.typed_words(query)))
        if limit <= 0 or len(" ".join(words)) < _MIN_QUERY or self.words.small_talk(words):
            return []
        expansions = self.words.expansions(words)
        typed = [
            (word, *extra) if word not in _STOP_WORDS else extra
            for word, extra in zip(words, expansions, strict=False)
        ] + expansions[len(words) :]
        hints = self.words.hints if self.words.states_problem(words) else ()
        found, ranked = self._index.scores([t for t in typed if t], words, hints)
        offered = sorted(
            (position for position, score in found.items() if score >= _MIN_SCORE),
            key=lambda position: (-ranked[position], position),
        )
        if not offered:
            return []
        floor = ranked[offered[0]] * _RELATIVE_CUTOFF
        return [self.entries[position] for position in offered[:limit] if ranked[position] >= floor]


def typed_words(text: str, known: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """The words of typed text as the search reads them: folded, short ones dropped, and a
    word in Latin letters spelled in Cyrillic, the first spelling in `known` if any (a Latin
    word in `known` itself, like "whatsapp", stays)."""
    text = _LATIN_APOSTROPHE.sub("", text[:_MAX_QUERY])
    words = []
    for word in _words(_search_fold(text)):
        if _is_latin(word) and word not in known:
            variants = [v.translate(_SOFT_SIGNS) for v in latin_variants(word)]
            word = next((v for v in variants if v in known), variants[0])
        words.append(word)
    return [word for word in words if len(word) >= _MIN_WORD]


def classify_small_talk(text: str, words: SearchWords | None = None) -> str | None:
    """ "thanks", "greeting" or "chat" when `text` is only small talk, else None."""
    words = words or builtin_search_words()
    return words.small_talk(typed_words(text, words.known() | _STOP_WORDS))


# --- reading and validation ------------------------------------------------------------------


def _check_id(kind: str, value: object, seen: set[str]) -> str:
    if not isinstance(value, str) or not value or not value.isascii() or len(value) > MAX_ID:
        raise FaqError(f"{kind} {value!r}: id must be non-empty ASCII, at most {MAX_ID} characters")
    if value in seen:
        raise FaqError(f"{kind} {value!r}: duplicate id")
    seen.add(value)
    return value


def _texts(where: str, raw: object, name: str, limit: int) -> dict[str, str]:
    """One non-empty text per locale, at most `limit` characters."""
    if not isinstance(raw, dict):
        raise FaqError(f"{where}: {name} must be an object with one text per locale")
    texts = {}
    for locale in LOCALES:
        value = raw.get(locale)
        if value is None:
            raise FaqError(f"{where}: {name} in {locale!r} is missing (missing translation)")
        if not isinstance(value, str) or not value.strip():
            raise FaqError(f"{where}: {name} in {locale!r} is empty (missing translation)")
        text = value.strip()
        if len(text) > limit:
            raise FaqError(
                f"{where}: {name} in {locale!r} is over-long ({len(text)} > {limit} characters)"
            )
        texts[locale] = text
    return texts


def _fill(where: str, texts: dict[str, str], substitutions: dict | None) -> dict[str, str]:
    """Placeholders replaced per locale; any placeholder without a value is refused."""
    filled = {}
    for locale, text in texts.items():
        if substitutions:
            for name, values in substitutions.items():
                token = "{" + name + "}"
                if token in text and isinstance(values, dict) and values.get(locale):
                    text = text.replace(token, str(values[locale]))
        for name in _PLACEHOLDER.findall(text):
            known = name in KNOWN_PLACEHOLDERS or name in (substitutions or {})
            if not known:
                raise FaqError(f"{where}: unknown placeholder {{{name}}} in {locale!r}")
            if substitutions is not None:
                raise FaqError(f"{where}: placeholder {{{name}}} has no value in {locale!r}")
        filled[locale] = text
    return filled


def _keywords(where: str, raw: object) -> dict[str, tuple[str, ...]]:
    if raw is None:
        return {locale: () for locale in LOCALES}
    if not isinstance(raw, dict):
        raise FaqError(f"{where}: keywords must be an object with a list per locale")
    keywords = {}
    for locale in LOCALES:
        words = raw.get(locale) or []
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise FaqError(f"{where}: keywords in {locale!r} must be a list of strings")
        keywords[locale] = tuple(w.strip() for w in words if w.strip())
    return keywords


def parse_faq(
    data: dict,
    *,
    substitutions: dict[str, dict[str, str]] | None = None,
    words: SearchWords | None = None,
) -> FaqCatalog:
    """Validate FAQ content (the parsed JSON) and build its catalogue; FaqError names the culprit.

    `substitutions` maps a placeholder name to its text per locale. Without it, the known
    placeholders are kept as they are (for a caller that fills them later); with it, every
    placeholder must have a value. Unknown placeholders are always refused. `words`: what the
    search knows of citizens' words, else the built-in `faq_search.json`.
    """
    if not isinstance(data, dict):
        raise FaqError("FAQ content must be an object with 'topics' and 'entries'")
    raw_topics = data.get("topics")
    raw_entries = data.get("entries")
    if not isinstance(raw_topics, list) or not isinstance(raw_entries, list):
        raise FaqError("FAQ content must have the lists 'topics' and 'entries'")
    topics = []
    seen: set[str] = set()
    for raw in raw_topics:
        raw = raw if isinstance(raw, dict) else {}
        tid = _check_id("topic", raw.get("id"), seen)
        where = f"topic {tid!r}"
        titles = _fill(where, _texts(where, raw.get("title"), "title", MAX_TITLE), substitutions)
        topics.append(FaqTopic(tid, titles))
    topic_ids = seen
    entries = []
    seen = set()
    for raw in raw_entries:
        raw = raw if isinstance(raw, dict) else {}
        eid = _check_id("entry", raw.get("id"), seen)
        where = f"entry {eid!r}"
        topic = raw.get("topic")
        if topic not in topic_ids:
            raise FaqError(f"{where}: unknown topic {topic!r}")
        questions = _texts(where, raw.get("question"), "question", MAX_QUESTION)
        questions = _fill(where, questions, substitutions)
        answers = _fill(where, _texts(where, raw.get("answer"), "answer", 10**9), substitutions)
        for locale, answer in answers.items():
            if len(answer) > MAX_ANSWER:
                raise FaqError(
                    f"{where}: answer in {locale!r} is over-long "
                    f"({len(answer)} > {MAX_ANSWER} characters after substitution)"
                )
        sources = raw.get("sources")
        if (
            not isinstance(sources, list)
            or not sources
            or not all(isinstance(s, str) and s.strip() for s in sources)
        ):
            raise FaqError(f"{where}: needs at least one source, each a non-empty string")
        entries.append(
            FaqEntry(
                id=eid,
                topic=topic,
                questions=questions,
                answers=answers,
                keywords=_keywords(where, raw.get("keywords")),
                sources=tuple(s.strip() for s in sources),
            )
        )
    if not entries:
        raise FaqError("FAQ content has no entries")
    return FaqCatalog(tuple(topics), tuple(entries), words)


def load_faq(
    path: Path | None = None, *, substitutions: dict[str, dict[str, str]] | None = None
) -> FaqCatalog:
    """Read and validate a FAQ file (`path`, else the built-in `bot/content/faq.json`), with the
    search's `faq_search.json` beside it (else the built-in one)."""
    name = str(path) if path is not None else "faq.json"
    beside = Path(path).parent / SEARCH_WORDS_FILE if path is not None else None
    words = load_search_words(beside) if beside is not None and beside.is_file() else None
    try:
        if path is not None:
            text = Path(path).read_text(encoding="utf-8")
        else:
            text = (resources.files("bot.content") / "faq.json").read_text(encoding="utf-8")
        data = json.loads(text)
    except (OSError, UnicodeDecodeError) as error:
        raise FaqError(f"{name}: cannot be read: {error}") from error
    except json.JSONDecodeError as error:
        raise FaqError(f"{name}: not valid JSON: {error}") from error
    return parse_faq(data, substitutions=substitutions, words=words)


class FaqLibrary:
    """Holds the catalogue in force; reload() swaps it only when the new content is valid."""

    def __init__(
        self, path: Path | None = None, *, substitutions: dict[str, dict[str, str]] | None = None
    ) -> None:
        """Load at once: broken content raises FaqError at start-up."""
        self._path = path
        self._substitutions = substitutions
        self._catalog = load_faq(path, substitutions=substitutions)

    @property
    def catalog(self) -> FaqCatalog:
        """The catalogue in force."""
        return self._catalog

    def substitution(self, name: str, locale: str) -> str:
        """What the placeholder `{name}` stands for in `locale` ("" when it has no value)."""
        return ((self._substitutions or {}).get(name) or {}).get(locale) or ""

    def reload(self) -> FaqCatalog:
        """Read the file again; on FaqError the old catalogue stays in force."""
        catalog = load_faq(self._path, substitutions=self._substitutions)
        self._catalog = catalog
        return catalog
