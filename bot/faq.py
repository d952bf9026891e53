"""The FAQ catalogue: bilingual questions and answers by topic, validated, and searchable.

Operators edit `bot/content/faq.json`; it is read and checked at start-up, and `FaqLibrary.reload`
swaps in a new version only when the whole file is valid. Answers may hold the placeholders
`{reception_schedule}` and `{municipality}`, filled per locale from configuration.

`FaqCatalog.search` finds entries for a question typed the way people type in chats, in Kyrgyz
or Russian. Every entry is indexed with the words of both languages (folded: lower case, Kyrgyz
letters typed as Russian look-alikes unified, punctuation dropped). A typed word and an indexed
word match when they are identical, are the same word with another ending (compared by their
beginnings), or differ by one typo in the first six letters; the closer the match, the more it
counts. Entries are ranked with a BM25-like score: each typed word adds its idf times a
saturated, field-weighted match strength (question and keywords weigh six times the answer).
Common question words ("как", "кантип") only break ties. An entry is offered only when its
strong matches pass a threshold, so unrelated text finds nothing.
"""

from __future__ import annotations

import json
import math
import re
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass
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
KNOWN_PLACEHOLDERS = ("reception_schedule", "municipality")

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


# --- search -----------------------------------------------------------------------------------

# Question words, pronouns, particles and politeness in both languages, written after `fold`
# (ө→о, ү→у, ң→н, ё→е). They say how something is asked, not what about.
_STOP_TEXT = """
    как что где когда куда откуда почему зачем кто кого кому чем чём какой какая какое какие
    каким какую каков сколько можно ли либо мне меня мой моя моё мои моего моей моих я вы вам
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
    делать сделать дела сам сама само сами
    кандайсын кандайсыз саламатсызбы салам саламатчылык рахмат суранам айтыңызчы айтып
    бериңизчи бериниз
    билгим келет кылам кылып болуп экен эмес ооба
"""
_STOP_WORDS = frozenset(fold(word) for word in _STOP_TEXT.split())

_MAX_QUERY = 500  # characters of a query that are read
_MIN_QUERY = 3  # a folded query shorter than this finds nothing
_MIN_WORD = 2  # shorter words are ignored
_TYPO_MIN = 5  # a typed word needs this many letters before a typo is forgiven

# How strongly a typed word matches an indexed one (see `_stem_strength` for the rules).
_EXACT = 1.0
_SAME_STEM = 0.8  # the same word with another ending
_TYPO = 0.6  # one edit in the first six letters, for a word not known in any form
_LONG_STEM = 0.5  # the same first five letters or more, then more than an ending differs
_SHORT_ROOT = 0.4  # a short root with short endings: Kyrgyz verbs (жаз-ам/жаз-уу, бар-а/бар-сам)
_STRONG = 0.5  # matches at least this strong find entries; weaker ones only help rank them

_LONG_ENDING = 2  # letters of ending that may differ after a long shared beginning (-ой/-ый)
_SHORT_PREFIX_SPAN = 3  # letters a short word (жер) may grow by as the other's beginning (жерди)
_SHORT_CHANGE_SPAN = 2  # ... when its last letter changes too (вода/водой)
_SHORT_ENDING = 3  # letters after a short root
# A short word's last letter may change into another form's: a vowel into another (вода/водой,
# слово/слова), or the к/п that Kyrgyz voices to г/б before a suffix (салык/салыгы).
_VOWELS = frozenset("аеиоуыэюя")
_VOICED = {"к": "г", "п": "б"}

# Field weights (BM25F style) and saturation.
_FIELD_WEIGHTS = (3.0, 3.0, 0.5)  # question, keywords, answer
_ANSWER = 2
_K1 = 1.2

# Scores are counted in units of one word found in the question of exactly one entry (its idf),
# so the threshold means the same in a catalogue of 5 entries and of 50.
_MIN_SCORE = 0.8  # below this an entry is not offered at all
_RELATIVE_CUTOFF = 0.3  # nor when it scores under this share of the best entry
_STOP_BONUS = 0.1  # per typed stop word in an entry's question or keywords: a tie-breaker

_LAST = "\U0010ffff"  # sorts after every letter: prefix + _LAST bounds the words with that prefix


def _words(folded: str) -> list[str]:
    """The words of a folded text, of at least two characters."""
    return [word for word in folded.split() if len(word) >= _MIN_WORD]


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


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def _stem_strength(typed: str, known: str, shared: int) -> float:
    """How well two different words that share their first `shared` letters match, or 0.

    - Five letters or more shared: the same word when the shorter one has at most two letters
      left (пенсия/пенсии, экстренной/экстренный), else related words.
    - A short word (under five letters) is the same word as a little longer one that begins
      with it (жер/жерди), or that differs in its last vowel or in the Kyrgyz к/г, п/б
      (вода/водой, салык/салыгы).
    - Otherwise three or four shared letters and at most three more in each word: a short root
      (жазам/жазуу), a weak match.
    """
    shorter, longer = (typed, known) if len(typed) <= len(known) else (known, typed)
    if shared >= 5:
        return _SAME_STEM if len(shorter) - shared <= _LONG_ENDING else _LONG_STEM
    extra = len(longer) - len(shorter)
    if shared >= 3 and shared == len(shorter) and extra <= _SHORT_PREFIX_SPAN:
        return _SAME_STEM
    if shared >= 3 and shared == len(shorter) - 1 and extra <= _SHORT_CHANGE_SPAN:
        last, other = shorter[-1], longer[shared]
        if (last in _VOWELS and other in _VOWELS) or _VOICED.get(last) == other:
            return _SAME_STEM
    if shared >= 3 and len(longer) - shared <= _SHORT_ENDING:
        return _SHORT_ROOT
    return 0.0


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
                    folded[chunk] = _words(fold(chunk))
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
        # sorted, for the words that begin alike; short ones apart, for short shared beginnings
        self.words = sorted(self.postings)
        self.short_words = [word for word in self.words if len(word) <= 5]
        # the first 5..7 letters of words, also with one letter deleted -> those beginnings
        beginnings = {word[:n] for word in self.words for n in range(5, min(len(word), 7) + 1)}
        typo_keys: dict[str, list[str]] = defaultdict(list)
        for beginning in beginnings:
            for key in (beginning, *_deletions(beginning)):
                typo_keys[key].append(beginning)
        self.typo_keys = dict(typo_keys)

    def idf(self, matched: int) -> float:
        """Inverse document frequency of a word found in `matched` entries (BM25's form)."""
        return math.log(1.0 + (self.size - matched + 0.5) / (matched + 0.5))

    def matches(self, typed: str) -> dict[str, float]:
        """Indexed words that match a typed word, with the strength of each match."""
        found: dict[str, float] = {}
        if typed in self.postings:
            found[typed] = _EXACT
        words = self.words
        length = len(typed)
        # Words that share three or four first letters: only a short word can match on so few.
        for n in (3, 4):
            if length < n:
                break
            pool = words if length <= n + 1 else self.short_words
            low, high = _span(pool, typed[:n])
            inner_low, inner_high = (
                _span(pool, typed[: n + 1], low, high) if length > n else (high, high)
            )
            for word in pool[low:inner_low] + pool[inner_high:high]:
                strength = _stem_strength(typed, word, n)
                if strength and word != typed:
                    found[word] = strength
        # Words that share five first letters or more.
        if length >= 5:
            low, high = _span(words, typed[:5])
            for word in words[low:high]:
                if word != typed:
                    found[word] = _stem_strength(typed, word, _shared(typed, word, 5))
        if length >= _TYPO_MIN and not any(s >= _SAME_STEM for s in found.values()):
            # not known in any form: perhaps a typo in its first six letters
            stem = typed[:6]
            beginnings: set[str] = set()
            for key in (stem, *_deletions(stem)):
                beginnings.update(self.typo_keys.get(key, ()))
            for beginning in beginnings:
                if abs(len(beginning) - len(stem)) <= 1 and _one_edit(stem, beginning):
                    low, high = _span(words, beginning)
                    for word in words[low:high]:
                        found.setdefault(word, _TYPO)
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

    def scores(self, typed: list[str]) -> tuple[dict[int, float], dict[int, float]]:
        """Entry position -> its score from strong matches, and -> its score for ranking.

        Only strong matches find an entry. The ranking score adds the weak matches and a
        tie-breaker for the typed stop words that the entry's question or keywords hold
        ("куда", "кантип").
        """
        found: dict[int, float] = {}
        ranked: dict[int, float] = {}
        for word in typed:
            if word in _STOP_WORDS:
                continue
            # the matched words by strength, weakest first
            by_strength: dict[float, list[str]] = {}
            for known, strength in self.matches(word).items():
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
        for word in typed:
            for position in self.stop_postings.get(word, ()):
                if position in found:
                    ranked[position] += _STOP_BONUS
        return found, ranked


class FaqCatalog:
    """Validated topics and entries, with lookups and search. Build it with `parse_faq`."""

    def __init__(self, topics: tuple[FaqTopic, ...], entries: tuple[FaqEntry, ...]) -> None:
        self.topics = topics
        self.entries = entries
        self._topics = {topic.id: topic for topic in topics}
        self._entries = {entry.id: entry for entry in entries}
        self._index = _Index(entries)

    def topic(self, topic_id: str) -> FaqTopic | None:
        """The topic with this id, or None."""
        return self._topics.get(topic_id)

    def entry(self, entry_id: str) -> FaqEntry | None:
        """The entry with this id, or None."""
        return self._entries.get(entry_id)

    def entries_in(self, topic_id: str) -> list[FaqEntry]:
        """The entries of a topic, in file order."""
        return [entry for entry in self.entries if entry.topic == topic_id]

    def search(self, query: str, limit: int = 3) -> list[FaqEntry]:
        """Up to `limit` entries that answer a typed question, best first; [] when none fits."""
        folded = fold(query[:_MAX_QUERY])
        if limit <= 0 or len(folded) < _MIN_QUERY:
            return []
        found, ranked = self._index.scores(list(dict.fromkeys(_words(folded))))
        offered = sorted(
            (position for position, score in found.items() if score >= _MIN_SCORE),
            key=lambda position: (-ranked[position], position),
        )
        if not offered:
            return []
        floor = ranked[offered[0]] * _RELATIVE_CUTOFF
        return [self.entries[position] for position in offered[:limit] if ranked[position] >= floor]


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


def parse_faq(data: dict, *, substitutions: dict[str, dict[str, str]] | None = None) -> FaqCatalog:
    """Validate FAQ content (the parsed JSON) and build its catalogue; FaqError names the culprit.

    `substitutions` maps a placeholder name to its text per locale. Without it, the known
    placeholders are kept as they are (for a caller that fills them later); with it, every
    placeholder must have a value. Unknown placeholders are always refused.
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
    return FaqCatalog(tuple(topics), tuple(entries))


def load_faq(
    path: Path | None = None, *, substitutions: dict[str, dict[str, str]] | None = None
) -> FaqCatalog:
    """Read and validate a FAQ file (`path`, else the built-in `bot/content/faq.json`)."""
    name = str(path) if path is not None else "faq.json"
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
    return parse_faq(data, substitutions=substitutions)


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

    def reload(self) -> FaqCatalog:
        """Read the file again; on FaqError the old catalogue stays in force."""
        catalog = load_faq(self._path, substitutions=self._substitutions)
        self._catalog = catalog
        return catalog
