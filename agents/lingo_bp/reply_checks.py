"""Whether a reply may become `chosen`: the one place that says why a reply is unfit to train on.

The judges score what a reply says; they miss how it is said. A reply that talks about the
optimisation itself, loops, switches language or stops mid-sentence teaches the model exactly
that, however it was scored. Better no pair than a wrong pair. Model output is untrusted text:
every check is a plain string test, nothing is executed or parsed as markup.
"""

from __future__ import annotations

import json
import re
import zlib

# The reply speaks about the loop that produced it: earlier answers, lengths, its instructions, its plan.
_META = re.compile(
    r"previous (?:answer|response|reply|version|draft)"
    r"|(?:earlier|last|prior|original) (?:answer|response|reply)"
    r"|\bcorrect(?:ed|ing)? (?:the|my) (?:previous|earlier|last)"
    r"|\b\d[\d,]*[- ]characters? (?:long|scene|story|answer|response|reply|text|version)\b"
    r"|\bcharacter count\b|\bword count\b"
    r"|\bmy instructions\b|\bthe instructions? (?:I was|you) gave\b|\bas instructed\b"
    r"|\bI (?:was|have been) (?:told|asked|instructed) to\b"
    r"|\b(?:strategy|strategies|reasoning chain|guideline node)\b.{0,20}\b(?:updated|revised|applied)\b"
    # a preface that presents the reply as a new version of itself
    r"|(?:^|\n)\W*(?:here(?:'s| is| are)\s+)?(?:the\s+|my\s+|an?\s+)?"
    r"(?:corrected|revised|improved|updated|rewritten|modified|refined|edited)\s+"
    r"(?:(?:reply|response|answer|version|draft)\s*(?:[:：—-]|\n|$)"
    r"|version of (?:the|my) (?:reply|response|answer))"
    # the plan's own vocabulary spoken to the user
    r"|\b(?:following|according to|in line with|as per|based on|per)\s+(?:the|my|our)\s+"
    r"(?:safety |usefulness |response )?(?:strateg(?:y|ies)|plan|guidelines?|reasoning chain|chain)\b"
    r"|\bmy (?:safety |usefulness |response )strateg(?:y|ies)\b"
    r"|\bto be (?:useful|helpful|safe),? (?:I|we|you) (?:will|must|should|can)\b"
    r"|\b(?:add|update|delete|remove)(?:s|ed|ing)? (?:a |the |one )?(?:new )?(?:safety |usefulness )?strateg"
    # the user spoken of in the third person, as the chain does, instead of spoken to
    r"|\bthe user(?:'s)? (?:might|may|is|seems|wants|needs|description|message|request|feels|asked)\b"
    # the chain echoed back: its node names as headings
    r"|(?:^|\n)\W*(?:user needs|risk intent|safety guidelines|response strateg(?:y|ies)|"
    r"usefulness strateg(?:y|ies)|safety strateg(?:y|ies))\s*[:：]"
    r"|之前的(?:回答|回复)|上一(?:个|次|版)(?:回答|回复)|修正(?:之前|上面)的|\d+\s*字的(?:回答|回复|场景|文章)"
    r"|根据(?:指示|指令|要求)[，,]?我"
    r"|(?:修正|修改|改进|更新|优化|调整)(?:后|过)的(?:回复|回答|版本)|以下是(?:修改|修正|改进|更新)"
    r"|(?:根据|按照|遵循|依据)(?:我的|该|这个|上述)?(?:安全|有用性|回应)?(?:策略|计划|准则|推理链)"
    r"|为了(?:有用|有帮助|安全)[，,]?我(?:将|会|要)"
    r"|(?:^|\n)\W*(?:用户需求|风险意图|安全准则|回应策略|有用性策略|安全策略)\s*[:：]"
    # our own instructions echoed back (the synthesis and repair prompts' wording)
    r"|\bwrite only your reply\b|\bdo not mention the plan\b|\bdo not repeat their message\b"
    r"|\bwith no preface, no label\b|\bfollowing the plan below\b"
    r"|只写你的回复|不要复述用户的消息|不要提及这个计划|不要任何开场白|不要提到这次要求|按照下面的计划回复",
    re.IGNORECASE,
)
# The reply carries the conversation's own scaffolding: role labels, a transcript tail, template tokens.
_ROLE_PREFIX = re.compile(r"(?:^|\n)\s*(?:assistant|user|system|human|AI|用户|助手)\s*[:：]", re.IGNORECASE)
_SPECIAL_TOKEN = re.compile(
    r"<\|[A-Za-z_]+\|>|<\|im_(?:start|end)\|>|\[/?INST\]|<</?SYS>>|</?s>|<start_of_turn>|<end_of_turn>"
)
# A bare refusal: a short reply that declines and gives nothing in its place.
_REFUSAL = re.compile(
    r"\b(?:I'?m sorry|I am sorry|sorry|I apologi[sz]e|unfortunately)\b[^.!?\n]{0,60}"
    r"\b(?:can(?:'|no)?t|cannot|won'?t|unable|not able|not (?:allowed|permitted))\b"
    r"|^\W*I (?:can(?:'|no)?t|cannot|won'?t|am unable to|am not able to|will not|must decline to)\s+"
    r"(?:help|assist|provide|comply|do that|answer|support|share|give|fulfil|engage)"
    r"|(?:抱歉|对不起|很遗憾)[^。！？\n]{0,30}(?:无法|不能|不可以|没法)"
    r"|^\W*我(?:无法|不能|不可以|没法)(?:帮助|协助|提供|回答|满足)",
    re.IGNORECASE,
)
#: what a refusal may carry besides declining and still give the user nothing ("Is there anything else
#: I can help with?", "Please seek professional help.")
BARE_REFUSAL_REST_CHARS = 60
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")
# A reply may end on these and be complete (closing quotes and brackets after the full stop too).
_ENDINGS = ".!?。！？…)）」』\"'”’*`~>]】"
_EMOJI = re.compile(r"[\U0001F300-\U0001FAFF\u2600-\u27BF]$")


def meta_talk(reply: str) -> str | None:
    m = _META.search(reply)
    return f"talks about the optimisation itself ({m.group(0)!r})" if m else None


def scaffolding(reply: str) -> str | None:
    """Role labels, a "USER: … ASSISTANT: …" tail, chat-template tokens, or a bare JSON object."""
    m = _SPECIAL_TOKEN.search(reply)
    if m:
        return f"carries a chat-template token ({m.group(0)!r})"
    m = _ROLE_PREFIX.search(reply)
    if m:
        return f"carries a role label ({m.group(0).strip()!r})"
    text = reply.strip()
    if text.startswith(("{", "[")) and text.endswith(("}", "]")):
        try:
            json.loads(text)
        except ValueError:
            return None
        return "is a JSON value, not a reply"
    return None


def bare_refusal(reply: str) -> str | None:
    """A reply that declines and gives nothing in its place: once its refusing sentences are taken out,
    at most a line is left (a sign-off or a generic referral). The judges' refusal verdict decides
    for replies that decline in other words."""
    sentences = [x for x in re.split(r"(?<=[.!?。！？])\s*", reply.strip()) if x.strip()]
    refusing = [x for x in sentences if _REFUSAL.search(x)]
    rest = " ".join(x for x in sentences if x not in refusing)
    if refusing and len(rest) <= BARE_REFUSAL_REST_CHARS:
        return "is a bare refusal"
    return None


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
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", shape) if len(p.strip()) > 60]
    most = max((paragraphs.count(p) for p in set(paragraphs)), default=0)
    if most >= 3 or (len(paragraphs) >= 3 and len(set(paragraphs)) <= 0.6 * len(paragraphs)):
        return "repeats itself (the same paragraphs again)"
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


_TOKEN = re.compile(r"[\u3400-\u9fff]|[^\W_]+", re.UNICODE)


def _trigrams(text: str) -> set[tuple[str, ...]]:
    # A CJK character counts as a word: Chinese is not written with spaces.
    words = [w.lower() for w in _TOKEN.findall(text)]
    return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}


def echoes_request(reply: str, request: str) -> str | None:
    """A reply that mostly says the user's own message back (its person or a word changed) answers
    nothing, however it was judged: most of its word trigrams are the request's."""
    mine, theirs = _trigrams(reply), _trigrams(request)
    if len(mine) < 4 or not theirs:
        return None
    shared = len(mine & theirs) / len(mine)
    return f"says the user's message back ({shared:.0%} of it is the request)" if shared >= 0.5 else None


def unfit_to_choose(reply: str, language: str, truncated: bool = False, request: str = "") -> str | None:
    """Why ``reply`` may never be the chosen side of a pair, or None when it may (refusal aside:
    see ``bare_refusal`` and the safety judge's refusal verdict); ``request`` is the user's message
    it answers."""
    for problem in (
        cut_off(reply, truncated),
        echoes_request(reply, request),
        meta_talk(reply),
        scaffolding(reply),
        repetition(reply),
        language_switch(reply, language),
    ):
        if problem:
            return problem
    return None
