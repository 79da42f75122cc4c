"""English words a text query ignores: they name nothing a picture shows, so requiring them
made "a flower" or "photo of a cat" find nothing while "flower" and "cat" did.

Snowball's English list, less the words that also name things people search pictures for
("can": milk can, watering can; "will", "don"; single letters such as "t" or "s" that stand for
T-shirts and sizes when a query is split on punctuation). Only the query drops them: documents
keep every word, so a query made of nothing but these ("the who", "a") still finds them.
"""

from __future__ import annotations

STOP_WORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before being
    below between both but by could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself
    just me more most my myself no nor not now of off on once only or other ought our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why with would you your yours yourself yourselves
    """.split()
)


def is_stop_word(word: str) -> bool:
    return word.casefold() in STOP_WORDS
