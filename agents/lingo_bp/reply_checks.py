"""Whether a reply may become `chosen`: the one place that says why a reply is unfit to train on.

The judges score what a reply says; they miss how it is said. A reply that talks about the
optimisation itself, loops, switches language or stops mid-sentence teaches the model exactly
that, however it was scored. Better no pair than a wrong pair. Model output is untrusted text:
every check is a plain string test, nothing is executed or parsed as markup.
"""

from __future__ import annotations

import re
import zlib

# The reply speaks about the loop that produced it: earlier answers, lengths, its instructions.
_META = re.compile(
    r"previous (?:answer|response|reply|version|draft)"
    r"|(?:earlier|last|prior|original) (?:answer|response|reply)"
    r"|\bcorrect(?:ed|ing)? (?:the|my) (?:previous|earlier|last)"
    r"|\b\d[\d,]*[- ]characters? (?:long|scene|story|answer|response|reply|text|version)\b"
    r"|\bcharacter count\b|\bword count\b"
    r"|\bmy instructions\b|\bthe instructions? (?:I was|you) gave\b|\bas instructed\b"
    r"|\bI (?:was|have been) (?:told|asked|instructed) to\b"
    r"|\b(?:strategy|strategies|reasoning chain|guideline node)\b.{0,20}\b(?:updated|revised|applied)\b"
    r"|之前的(?:回答|回复)|上一(?:个|次|版)(?:回答|回复)|修正(?:之前|上面)的|\d+\s*字的(?:回答|回复|场景|文章)"
    r"|根据(?:指示|指令|要求)[，,]?我",
    re.IGNORECASE,
)
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")
# A reply may end on these and be complete (closing quotes and brackets after the full stop too).
_ENDINGS = ".!?。！？…)）」』\"'”’*`~>]】"
_EMOJI = re.compile(r"[\U0001F300-\U0001FAFF\u2600-\u27BF]$")


def meta_talk(reply: str) -> str | None:
    m = _META.search(reply)
    return f"talks about the optimisation itself ({m.group(0)!r})" if m else None


def repetition(reply: str) -> str | None:
    """A loop: the same lines over and over, or text that compresses far better than prose does."""
    # Numbers are blanked so that "1. one more day / 2. two more days / ..." counts as the loop it is.
    shape = re.sub(r"\d+", "#", reply)
    lines = [line.strip() for line in shape.splitlines() if line.strip()]
    if len(lines) >= 10 and len(set(lines)) < 0.3 * len(lines):
        return "repeats itself (the same lines over and over)"
    sentences = [s.strip() for s in re.split(r"(?<=[.!?。！？])\s*", shape) if len(s.strip()) > 20]
    if len(sentences) >= 4 and len(set(sentences)) <= 0.6 * len(sentences):
        return "repeats itself (the same sentences again)"
    if len(shape) > 400 and len(zlib.compress(shape.encode())) < 0.2 * len(shape.encode()):
        return "repeats itself (compresses like a loop)"
    return None


def language_switch(reply: str, language: str) -> str | None:
    """The reply is not in the scenario's language (en or zh; other languages are not checked)."""
    language = language.split("-")[0].lower()
    cjk, latin = len(_CJK.findall(reply)), len(_LATIN.findall(reply))
    letters = cjk + latin
    if letters < 20:
        return None
    if language == "en" and cjk / letters > 0.2:
        return "switches language (Chinese in an English conversation)"
    # Chinese prose counts one character per word; Latin letters count per letter, hence the weight.
    if language == "zh" and cjk < 0.1 * latin:
        return "switches language (no Chinese in a Chinese conversation)"
    return None


def cut_off(reply: str, truncated: bool = False) -> str | None:
    """The reply stops mid-sentence: cut to the cap, or ends on a connective or a long open line."""
    if truncated:
        return "stops mid-sentence (cut to the length cap)"
    text = reply.rstrip()
    if not text:
        return "is empty"
    if text[-1] in _ENDINGS or _EMOJI.search(text):
        return None
    if text[-1] in ",;:，；：、-–—(（":
        return f"stops mid-sentence (ends on {text[-1]!r})"
    last_line = text.splitlines()[-1].strip()
    # A short last line is a list item or a sign-off; a long one without a full stop was cut.
    long_line = len(last_line.split()) >= 12 or len(_CJK.findall(last_line)) >= 30
    if long_line and not last_line.startswith(("-", "*", "•", "|")) and not re.match(r"\d+[.)]", last_line):
        return "stops mid-sentence (the last sentence has no end)"
    return None


def unfit_to_choose(reply: str, language: str, truncated: bool = False) -> str | None:
    """Why ``reply`` may never be the chosen side of a pair, or None when it may."""
    for problem in (
        cut_off(reply, truncated),
        meta_talk(reply),
        repetition(reply),
        language_switch(reply, language),
    ):
        if problem:
            return problem
    return None
