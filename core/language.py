"""Is this text English? The bundled classifiers were trained on English only.

A cheap check, no model: the share of letters outside the Latin script, then, for Latin-script
text, common function words of English against those of the languages most often typed by mistake
(French, German, Spanish, Italian, Portuguese, Dutch). It flags text that is mostly not English;
a foreign name or a single word in an English sentence passes.
"""

import re
import unicodedata

NON_LATIN_SHARE = 0.3  # letters outside the Latin script above this share: not English
MIN_WORDS = 3  # shorter Latin-script text is not judged by its words

ENGLISH = set("""the a an and or but not no is are was were be been am i you he she it we they me my your
his her its our their this that these those of to in on at for with from by as if so very too
have has had do does did will would can could should just there what which who all some any
than then when where how why about after before up out over again only also""".split())

OTHERS = {
    "French": set("""le la les un une des et est sont pas ne je tu il elle nous vous ils elles du de
        au aux ce cette ces mon ma mes très mais avec pour sur dans qui que c'est j'ai n'est
        été être avoir fait trop bien""".split()),
    "German": set("""der die das ein eine und ist sind nicht kein keine ich du er sie es wir ihr mit
        für auf im dem den des zu sehr aber war waren habe hat gut schlecht auch noch nur""".split()),
    "Spanish": set("""el la los las un una y es son no muy pero con para por en que lo del al mi su
        fue está estaba este esta bueno malo también sin""".split()),
    "Italian": set("""il lo la gli le un una e è sono non molto ma con per di che del della questo
        questa è era buono cattivo anche senza""".split()),
    "Portuguese": set("""o a os as um uma e é são não muito mas com para por em que do da no na
        este esta foi bom ruim também sem""".split()),
    "Dutch": set("""de het een en is zijn niet geen ik jij hij zij wij met voor op in van dat dit
        heel maar was waren goed slecht ook nog""".split()),
}

_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def _is_latin(char: str) -> bool:
    return unicodedata.name(char, "").startswith("LATIN")


def not_english(text: str) -> str | None:
    """A one-line warning if `text` is mostly not English, else None."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return None
    foreign = sum(not _is_latin(c) for c in letters)
    if foreign / len(letters) > NON_LATIN_SHARE:
        return ("The text is mostly in a non-Latin script; this model reads English only, "
                "so its label means nothing here.")
    words = [w.lower() for w in _WORD.findall(text)]
    if len(words) < MIN_WORDS:
        return None
    english = sum(w in ENGLISH for w in words)
    # a word in both lists ("a", "in", "is") counts for English only
    scores = {lang: sum(w in vocab and w not in ENGLISH for w in words) for lang, vocab in OTHERS.items()}
    language, hits = max(scores.items(), key=lambda item: item[1])
    if hits >= 2 and hits > english:
        return (f"The text looks like {language}, not English; this model reads English only, "
                "so its label means little here.")
    return None
