"""Judges as a registry: one `JudgeSpec` per judge, in one module each (safety.py, satisfaction.py, …).

Adding a judge is adding its module here (which calls `register`) and its test; nothing outside this
package branches on a judge's name.
"""

from agents.judges.registry import JudgeError, get_judge, judge_names, judges, register, reviewed_judges
from agents.judges.spec import JudgeSpec

__all__ = ["JudgeError", "JudgeSpec", "get_judge", "judge_names", "judges", "register", "reviewed_judges"]
