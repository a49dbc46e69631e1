"""Tables of model outputs for the ``code`` verifier, judged in a real bwrap sandbox.

The verifier is called in this process (``CODE.verify``), so every program runs
in the jail that ``referee.sandbox.current()`` opens here (slot 7: a uid of its
own, apart from the server's workers).

The hostile programs at the end each try to get a reward without solving the
task; none may.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from referee import sandbox
from referee.verifiers import NO_CONTEXT, InvalidReference, Outcome, Score
from referee.verifiers.code import CODE, CodeParams, extract, outputs_match, parse_reference

DEFAULT = CodeParams()


@pytest.fixture(scope="module", autouse=True)
def jail() -> Iterator[None]:
    sandbox.configure("bwrap", slot=7)
    yield
    sandbox.current().close()


def judge(response: str, reference: Any, params: CodeParams = DEFAULT) -> Score:
    return CODE.verify(response, reference, params)


def r1(reasoning: str, answer: str) -> str:
    """A DeepSeek-R1 style completion: a closed think block, then the written answer."""
    return f"<think>\n{reasoning}\n</think>\n\n{answer}"


def fenced(program: str, tag: str = "python") -> str:
    return f"Here is my solution.\n\n```{tag}\n{program.strip()}\n```\n"


# --------------------------------------------------------------------------- extraction

SUM_PY = "a, b = map(int, input().split())\nprint(a + b)\n"
SUM_CPP = (
    "#include <iostream>\nint main() {\n    long long a, b;\n"
    "    std::cin >> a >> b;\n    std::cout << a + b << std::endl;\n}\n"
)
SUM_JS = (
    "const data = require('fs').readFileSync(0, 'utf8').trim().split(/\\s+/).map(Number);\n"
    "console.log(data[0] + data[1]);\n"
)
DRAFT_IN_THINKING = (
    "Okay, I need to read two integers and print their sum. First draft:\n\n"
    "```python\na, b = input().split()\nprint(a + b)\n```\n\n"
    "Wait, that concatenates the strings: '1' + '2' is '12'. I need int() first."
)
MARKDOWN_IN_STRING = 'md = """\n```\nprint(1)\n```\n"""\nprint(md.count("`"))\n'

EXTRACTION = [
    pytest.param(
        r1(DRAFT_IN_THINKING, "Convert both to int, then add.\n\n```python\n" + SUM_PY + "```\n"),
        "python",
        SUM_PY,
        id="r1-draft-in-thinking-final-block-used",
    ),
    pytest.param(
        r1(
            "Let me check `a + b` on the sample.",
            "Brute force first:\n```python\nprint(0)\n```\nThe real one:\n```python\n"
            + SUM_PY
            + "```\nDone.",
        ),
        "python",
        SUM_PY,
        id="last-python-block-of-the-answer",
    ),
    pytest.param(
        "<think>\nLet me write it.\n```python\nprint(1)\n```\nHmm, more cases to check",
        "python",
        "",
        id="truncated-while-thinking-no-answer",
    ),
    pytest.param("```py\n" + SUM_PY + "```", "python", SUM_PY, id="py-tag"),
    pytest.param("```Python3\n" + SUM_PY + "```", "python", SUM_PY, id="python3-tag-any-case"),
    pytest.param(
        "```python title=main.py\n" + SUM_PY + "```", "python", SUM_PY, id="info-string-after-tag"
    ),
    pytest.param(
        "```python\n" + SUM_PY + "```\n\nSample run:\n```\n$ echo 1 2 | python main.py\n3\n```",
        "python",
        SUM_PY,
        id="tagged-block-beats-a-later-untagged-one",
    ),
    pytest.param(
        "Reference idea in Python:\n```python\nprint(sum(map(int, input().split())))\n```\n"
        "And in C++:\n```cpp\n" + SUM_CPP + "```",
        "cpp",
        SUM_CPP,
        id="cpp-tag-among-python",
    ),
    pytest.param("```c++\n" + SUM_CPP + "```", "cpp", SUM_CPP, id="c++-tag"),
    pytest.param(
        "```cpp\n" + SUM_CPP + "```\nPython version:\n```python\nprint(3)\n```",
        "cpp",
        SUM_CPP,
        id="cpp-wanted-python-block-ignored",
    ),
    pytest.param("```javascript\n" + SUM_JS + "```", "javascript", SUM_JS, id="javascript-tag"),
    pytest.param("```js\n" + SUM_JS + "```", "javascript", SUM_JS, id="js-tag"),
    pytest.param("Solution:\n```\n" + SUM_PY + "```\n", "python", SUM_PY, id="untagged-fence"),
    pytest.param(
        "```cpp\nint main() {}\n```\n```\n" + SUM_PY + "```",
        "python",
        SUM_PY,
        id="other-language-skipped-untagged-used",
    ),
    pytest.param("~~~python\n" + SUM_PY + "~~~\n", "python", SUM_PY, id="tilde-fence"),
    pytest.param(
        "```python\n" + SUM_PY + "~~~\nstill code\n```",
        "python",
        SUM_PY + "~~~\nstill code\n",
        id="tilde-does-not-close-backticks",
    ),
    pytest.param(
        "````python\n" + MARKDOWN_IN_STRING + "````\n",
        "python",
        MARKDOWN_IN_STRING,
        id="four-backtick-fence-around-backticks",
    ),
    pytest.param(
        '```python\ns = "```"\nprint(s, `x` if False else 1)\n```',
        "python",
        's = "```"\nprint(s, `x` if False else 1)\n',
        id="backticks-inside-a-string",
    ),
    pytest.param(
        "1. Read input\n2. Print the sum:\n\n   ```python\n   print(3)\n   ```\n",
        "python",
        "   print(3)\n",
        id="indented-fence-in-a-list",
    ),
    pytest.param(
        "a, b = map(int, input().split())\nprint(a + b)\n\n",
        "python",
        "a, b = map(int, input().split())\nprint(a + b)",
        id="no-fence-whole-answer",
    ),
    pytest.param(
        r1("Simple.", "import sys\nprint(sum(map(int, sys.stdin.read().split())))"),
        "python",
        "import sys\nprint(sum(map(int, sys.stdin.read().split())))",
        id="no-fence-after-thinking",
    ),
    pytest.param(
        "```python\nprint(1)\n", "python", "```python\nprint(1)", id="unclosed-fence-whole-text"
    ),
]


@pytest.mark.parametrize(("response", "language", "program"), EXTRACTION)
def test_extract(response: str, language: str, program: str) -> None:
    reference = {"language": language, "tests": [{"stdin": "", "stdout": ""}]}
    assert extract(response, reference, DEFAULT, NO_CONTEXT) == program


# --------------------------------------------------------------------------- checkers

TOKENS = [
    ("3\n", "3", True),
    ("3   \n\n\n", "3\n", True),
    ("1 2\n3 4\n", "1 2 3 4", True),  # tokens, not lines
    ("1000000001", "1000000000", False),  # integers exactly, no relative tolerance
    ("999999999999999999", "1000000000000000000", False),
    ("13535", "13536", False),
    ("0.333333", "0.3333333333", True),
    ("0.3333", "0.333333", False),
    ("1e-7", "0.0000001", True),
    ("2.5000001", "2.5", True),
    ("2.50001", "2.5", False),
    ("-0.0", "0.0", True),
    ("-0", "0", True),  # integer tokens compare by value
    ("nan", "nan", True),
    ("nan", "0.0", False),
    ("inf", "1e308", False),
    ("3", "3.000000", True),  # one side written as a decimal: compared with tolerance
    ("YES", "yes", False),
    ("1 2", "1 2 3", False),
    ("", "", True),
    ("", "0", False),
]


@pytest.mark.parametrize(("got", "expected", "match"), TOKENS)
def test_tokens_checker(got: str, expected: str, match: bool) -> None:
    assert outputs_match(got, expected, DEFAULT) is match


@pytest.mark.parametrize(
    ("checker", "got", "expected", "match"),
    [
        ("lines", "a b  \nc\n\n\n", "a b\nc", True),
        ("lines", "a  b\n", "a b\n", False),
        ("lines", "\na\n", "a\n", False),
        ("lines", "1.0\n", "1.00\n", False),
        ("exact", "3\n", "3\n", True),
        ("exact", "3", "3\n", False),
        ("exact", "3 \n", "3\n", False),
    ],
)
def test_lines_and_exact_checkers(checker: Any, got: str, expected: str, match: bool) -> None:
    assert outputs_match(got, expected, CodeParams(checker=checker)) is match


def test_float_tolerance_param() -> None:
    assert outputs_match("0.31", "0.3", CodeParams(float_tolerance=0.05))
    assert not outputs_match("0.31", "0.3", CodeParams(float_tolerance=0.001))
    with pytest.raises(ValueError):
        CodeParams(float_tolerance=1.5)


# --------------------------------------------------------------------------- stdin / stdout

SUM_TESTS = [
    {"stdin": "1 2\n", "stdout": "3\n"},
    {"stdin": "-5 5\n", "stdout": "0\n"},
    {"stdin": "2000000000 2000000000\n", "stdout": "4000000000\n"},
]


def sum_ref(language: str, **extra: Any) -> dict[str, Any]:
    return {"language": language, "tests": SUM_TESTS, **extra}


def test_python_stdin_correct() -> None:
    response = r1(DRAFT_IN_THINKING, "```python\n" + SUM_PY + "```")
    score = judge(response, sum_ref("python"))
    assert (score.reward, score.outcome) == (1.0, Outcome.CORRECT)
    assert score.details == {"language": "python", "passed": 3, "total": 3}


def test_python_draft_from_thinking_would_fail() -> None:
    score = judge(fenced("a, b = input().split()\nprint(a + b)"), sum_ref("python"))
    assert (score.reward, score.outcome) == (0.0, Outcome.INCORRECT)
    failure = score.details["first_failure"]
    assert failure["index"] == 0
    assert failure["input"] == "1 2\n"
    assert failure["expected"] == "3\n"
    assert failure["got"] == "12\n"
    assert score.details["passed"] == 0


def test_python_stdin_float_output() -> None:
    ref = {"language": "python", "tests": [{"stdin": "1 3\n", "stdout": "0.333333333\n"}]}
    assert judge(fenced("a, b = map(int, input().split())\nprint(a / b)"), ref).reward == 1.0
    assert judge(fenced("print('%.2f' % (1 / 3))"), ref).reward == 0.0


def test_cpp_stdin_correct() -> None:
    score = judge("Fast I/O is not needed.\n\n```cpp\n" + SUM_CPP + "```", sum_ref("cpp"))
    assert (score.reward, score.outcome) == (1.0, Outcome.CORRECT)
    assert score.details["language"] == "cpp"


def test_cpp_int_overflow_is_incorrect() -> None:
    program = SUM_CPP.replace("long long", "int")
    score = judge(fenced(program, "cpp"), sum_ref("cpp"))
    assert (score.reward, score.outcome) == (0.0, Outcome.INCORRECT)
    assert score.details["first_failure"]["index"] == 2


def test_cpp_compile_error() -> None:
    program = "#include <iostream>\nint main() {\n    std::cout << undefined_name << std::endl\n}\n"
    score = judge(fenced(program, "c++"), sum_ref("cpp"))
    assert (score.reward, score.outcome) == (0.0, Outcome.COMPILE_ERROR)
    assert "undefined_name" in score.details["first_failure"]["stderr"]
    assert score.details["passed"] == 0


def test_cpp_runtime_error_and_memory_limit() -> None:
    crash = "#include <cstdlib>\nint main() { std::abort(); }\n"
    score = judge(fenced(crash, "cpp"), sum_ref("cpp"))
    assert (score.reward, score.outcome) == (0.0, Outcome.RUNTIME_ERROR)
    hog = (
        "#include <vector>\n#include <iostream>\nint main() {\n"
        "    std::vector<long long> v(2000000000LL);\n    std::cout << v.size();\n}\n"
    )
    score = judge(fenced(hog, "cpp"), sum_ref("cpp", memory_limit_mb=128))
    assert (score.reward, score.outcome) == (0.0, Outcome.MEMORY_LIMIT)


def test_javascript_stdin() -> None:
    score = judge("```javascript\n" + SUM_JS + "```", sum_ref("javascript"))
    assert (score.reward, score.outcome) == (1.0, Outcome.CORRECT)
    wrong = SUM_JS.replace("data[0] + data[1]", "String(data[0]) + data[1]")
    score = judge("```js\n" + wrong + "```", sum_ref("javascript"))
    assert (score.reward, score.outcome) == (0.0, Outcome.INCORRECT)


def test_python_syntax_error_is_compile_error() -> None:
    score = judge(fenced("a, b = map(int, input().split()\nprint(a + b)"), sum_ref("python"))
    assert (score.reward, score.outcome) == (0.0, Outcome.COMPILE_ERROR)


def test_python_runtime_error() -> None:
    score = judge(fenced("a, b = map(int, input().split(','))\nprint(a + b)"), sum_ref("python"))
    assert (score.reward, score.outcome) == (0.0, Outcome.RUNTIME_ERROR)
    assert "ValueError" in score.details["first_failure"]["stderr"]


def test_python_timeout() -> None:
    program = "a, b = map(int, input().split())\nwhile True:\n    a += 1\n"
    score = judge(fenced(program), sum_ref("python", time_limit_s=0.5))
    assert (score.reward, score.outcome) == (0.0, Outcome.TIMEOUT)


def test_python_memory_limit() -> None:
    program = "a, b = map(int, input().split())\nseen = [0] * (200 * 1000 * 1000)\nprint(a + b)"
    score = judge(fenced(program), sum_ref("python", memory_limit_mb=64))
    assert (score.reward, score.outcome) == (0.0, Outcome.MEMORY_LIMIT)


def test_empty_program_is_no_answer() -> None:
    score = judge("<think>\nI am still thinking about", sum_ref("python"))
    assert (score.reward, score.outcome) == (0.0, Outcome.NO_ANSWER)


PARITY_PY = "n = int(input())\nprint('even' if n % 2 == 0 else 'odd')\n"
PARITY_TESTS = [
    {"stdin": "2\n", "stdout": "even\n"},
    {"stdin": "7\n", "stdout": "odd\n"},
    {"stdin": "0\n", "stdout": "even\n"},
    {"stdin": "-3\n", "stdout": "odd\n"},
]


def test_scoring_fraction_partial() -> None:
    wrong_for_negatives = "n = int(input())\nprint('even' if n % 2 == 0 and n >= 0 else 'odd')"
    ref = {"language": "python", "tests": PARITY_TESTS, "scoring": "fraction"}
    assert judge(fenced(PARITY_PY), ref).reward == 1.0
    always_odd = judge(fenced("input()\nprint('odd')"), ref)
    assert (always_odd.reward, always_odd.outcome) == (0.5, Outcome.PARTIAL)
    assert always_odd.details["passed"] == 2
    assert always_odd.details["first_failure"]["index"] == 0
    almost = judge(fenced(wrong_for_negatives), ref)
    assert (almost.reward, almost.outcome) == (1.0, Outcome.CORRECT)  # -3 is odd either way
    none = judge(fenced("print('?')"), ref)
    assert (none.reward, none.outcome) == (0.0, Outcome.INCORRECT)


def test_scoring_all_stops_at_first_failure() -> None:
    ref = {"language": "python", "tests": PARITY_TESTS}
    score = judge(fenced("input()\nprint('even')"), ref)
    assert (score.reward, score.outcome) == (0.0, Outcome.INCORRECT)
    assert score.details["passed"] == 1  # the second test failed; the rest did not run
    assert score.details["first_failure"]["index"] == 1


def test_first_failure_is_truncated() -> None:
    numbers = " ".join(str(i) for i in range(2000))
    ref = {
        "language": "python",
        "tests": [{"stdin": numbers + "\n", "stdout": numbers + "\n"}],
    }
    score = judge(fenced("print(input()[::-1])"), ref)
    failure = score.details["first_failure"]
    for key in ("input", "expected", "got"):
        assert len(failure[key]) == 200
        assert failure[key].endswith("...")


def test_lines_dataset_format() -> None:
    ref = {"language": "python", "tests": [{"input": ["3", "1 2 3"], "output": ["6"]}]}
    program = "input()\nprint(sum(map(int, input().split())))"
    assert judge(fenced(program), ref).reward == 1.0


# --------------------------------------------------------------------------- HumanEval style

RUNNING_MAX_TEST = """

METADATA = {"author": "referee", "dataset": "test"}


def check(candidate):
    assert candidate([]) == []
    assert candidate([1, 2, 3, 4]) == [1, 2, 3, 4]
    assert candidate([4, 3, 2, 1]) == [4, 4, 4, 4]
    assert candidate([3, 2, 3, 100, 3]) == [3, 3, 3, 100, 100]
"""
RUNNING_MAX = '''
from typing import List


def running_max(numbers: List[int]) -> List[int]:
    """The largest element seen so far, at each position."""
    result = []
    best = None
    for n in numbers:
        best = n if best is None else max(best, n)
        result.append(best)
    return result
'''
VOWELS_TEST = """

def check(candidate):
    assert candidate("abcde") == 2, "This prints if this assert fails 1 (good for debugging!)"
    assert candidate("Alone") == 3
    assert candidate("key") == 2
    assert candidate("bye") == 1
    assert candidate("ACEDY") == 3
    assert candidate("") == 0
"""
VOWELS = '''
def vowels_count(s):
    """Vowels are a, e, i, o, u, and y only at the end of the word."""
    count = sum(c in "aeiouAEIOU" for c in s)
    if s and s[-1] in "yY":
        count += 1
    return count
'''
SECOND_TEST = """

def check(candidate):
    assert candidate([1, 2, 3, 4, 5]) == 2
    assert candidate([5, 1, 4, 3, 2]) == 2
    assert candidate([]) == None
    assert candidate([1, 1]) == None
    assert candidate([1, 1, 1, 1, 0]) == 1
    assert True, "This prints if this assert fails 2 (also good for debugging!)"
"""
SECOND = """
def next_smallest(lst):
    distinct = sorted(set(lst))
    return None if len(distinct) < 2 else distinct[1]
"""
MEAN_TEST = """

def check(candidate):
    assert abs(candidate([1.0, 2.0, 3.0]) - 2.0 / 3.0) < 1e-6
    assert abs(candidate([1.0, 2.0, 3.0, 4.0]) - 1.0) < 1e-6
    assert abs(candidate([1.0, 2.0, 3.0, 4.0, 5.0]) - 6.0 / 5.0) < 1e-6
"""
MEAN = """
import statistics


def mean_absolute_deviation(numbers):
    centre = statistics.fmean(numbers)
    return sum(abs(x - centre) for x in numbers) / len(numbers)
"""


def humaneval(test_code: str, entry_point: str) -> dict[str, Any]:
    return {"language": "python", "test_code": test_code, "entry_point": entry_point}


HUMANEVAL = [
    pytest.param(RUNNING_MAX_TEST, "running_max", RUNNING_MAX, id="running_max"),
    pytest.param(VOWELS_TEST, "vowels_count", VOWELS, id="vowels_count"),
    pytest.param(SECOND_TEST, "next_smallest", SECOND, id="next_smallest"),
    pytest.param(MEAN_TEST, "mean_absolute_deviation", MEAN, id="mean_absolute_deviation"),
]


@pytest.mark.parametrize(("test_code", "entry_point", "solution"), HUMANEVAL)
def test_humaneval_correct(test_code: str, entry_point: str, solution: str) -> None:
    response = r1("Let me think about edge cases: the empty input.", fenced(solution))
    score = judge(response, humaneval(test_code, entry_point))
    assert (score.reward, score.outcome) == (1.0, Outcome.CORRECT)
    assert score.details == {"language": "python", "passed": 1, "total": 1}


HUMANEVAL_WRONG = [
    pytest.param(
        RUNNING_MAX_TEST,
        "running_max",
        RUNNING_MAX.replace("max(best, n)", "n"),
        Outcome.INCORRECT,
        "AssertionError",
        id="assertion",
    ),
    pytest.param(
        VOWELS_TEST,
        "vowels_count",
        VOWELS.replace('"aeiouAEIOU"', '"aiouAIOU"'),
        Outcome.INCORRECT,
        "This prints if this assert fails 1",
        id="assertion-message",
    ),
    pytest.param(
        SECOND_TEST,
        "next_smallest",
        "def next_smallest(lst):\n    return sorted(lst)[1]\n",
        Outcome.RUNTIME_ERROR,
        "IndexError",
        id="candidate-raises",
    ),
    pytest.param(
        MEAN_TEST,
        "mean_absolute_deviation",
        "def mean_abs_dev(numbers):\n    return 0.0\n",
        Outcome.RUNTIME_ERROR,
        "mean_absolute_deviation",
        id="wrong-function-name",
    ),
    pytest.param(
        MEAN_TEST,
        "mean_absolute_deviation",
        "import numpy_that_does_not_exist\n" + MEAN,
        Outcome.RUNTIME_ERROR,
        "ModuleNotFoundError",
        id="import-error-at-load",
    ),
]


@pytest.mark.parametrize(
    ("test_code", "entry_point", "solution", "outcome", "error"), HUMANEVAL_WRONG
)
def test_humaneval_wrong(
    test_code: str, entry_point: str, solution: str, outcome: Outcome, error: str
) -> None:
    score = judge(fenced(solution), humaneval(test_code, entry_point))
    assert (score.reward, score.outcome) == (0.0, outcome)
    assert score.details["passed"] == 0
    assert error in score.details["first_failure"]["error"]


def test_humaneval_syntax_error() -> None:
    score = judge(
        fenced("def running_max(numbers)\n    return numbers"),
        humaneval(RUNNING_MAX_TEST, "running_max"),
    )
    assert (score.reward, score.outcome) == (0.0, Outcome.COMPILE_ERROR)
    assert "SyntaxError" in score.details["first_failure"]["stderr"]


def test_humaneval_timeout_and_memory() -> None:
    ref = {**humaneval(RUNNING_MAX_TEST, "running_max"), "time_limit_s": 0.5}
    loop = "def running_max(numbers):\n    while True:\n        pass\n"
    score = judge(fenced(loop), ref)
    assert (score.reward, score.outcome) == (0.0, Outcome.TIMEOUT)
    hog = "def running_max(numbers):\n    return [0] * (10 ** 10)\n"
    score = judge(fenced(hog), {**ref, "memory_limit_mb": 128, "time_limit_s": 5})
    assert (score.reward, score.outcome) == (0.0, Outcome.MEMORY_LIMIT)


def test_humaneval_program_output_is_not_the_verdict() -> None:
    program = RUNNING_MAX + "\nprint('debug: loaded')\n"
    score = judge(fenced(program), humaneval(RUNNING_MAX_TEST, "running_max"))
    assert score.reward == 1.0


# HumanEval/32, /38 and /50 (openai/human-eval, MIT licence): the checks call
# helpers that only the prompt, and so the program, defines.
POLY_PROMPT = """
import math


def poly(xs: list, x: float):
    return sum([coeff * math.pow(x, i) for i, coeff in enumerate(xs)])


def find_zero(xs: list):
"""
FIND_ZERO = """    begin, end = -1., 1.
    while poly(xs, begin) * poly(xs, end) > 0:
        begin *= 2.0
        end *= 2.0
    while end - begin > 1e-10:
        center = (begin + end) / 2.0
        if poly(xs, center) * poly(xs, begin) > 0:
            begin = center
        else:
            end = center
    return begin
"""
FIND_ZERO_TEST = """

METADATA = {}


def check(candidate):
    import math
    import random
    rng = random.Random(42)
    import copy
    for _ in range(100):
        ncoeff = 2 * rng.randint(1, 4)
        coeffs = []
        for _ in range(ncoeff):
            coeff = rng.randint(-10, 10)
            if coeff == 0:
                coeff = 1
            coeffs.append(coeff)
        solution = candidate(copy.deepcopy(coeffs))
        assert math.fabs(poly(coeffs, solution)) < 1e-4
"""
CYCLIC_PROMPT = """

def encode_cyclic(s: str):
    groups = [s[(3 * i):min((3 * i + 3), len(s))] for i in range((len(s) + 2) // 3)]
    groups = [(group[1:] + group[0]) if len(group) == 3 else group for group in groups]
    return "".join(groups)


def decode_cyclic(s: str):
"""
DECODE_CYCLIC = "    return encode_cyclic(encode_cyclic(s))\n"
DECODE_CYCLIC_TEST = """

METADATA = {}


def check(candidate):
    from random import randint, choice
    import string

    letters = string.ascii_lowercase
    for _ in range(100):
        str = ''.join(choice(letters) for i in range(randint(10, 20)))
        encoded_str = encode_cyclic(str)
        assert candidate(encoded_str) == str
"""
SHIFT_PROMPT = """

def encode_shift(s: str):
    return "".join([chr(((ord(ch) + 5 - ord("a")) % 26) + ord("a")) for ch in s])


def decode_shift(s: str):
"""
DECODE_SHIFT = '    return "".join([chr(((ord(ch) - 5 - ord("a")) % 26) + ord("a")) for ch in s])\n'
DECODE_SHIFT_TEST = """

METADATA = {}


def check(candidate):
    from random import randint, choice
    import copy
    import string

    letters = string.ascii_lowercase
    for _ in range(100):
        str = ''.join(choice(letters) for i in range(randint(10, 20)))
        encoded_str = encode_shift(copy.deepcopy(str))
        assert candidate(copy.deepcopy(encoded_str)) == str
"""
WITH_HELPERS = [
    pytest.param(FIND_ZERO_TEST, "find_zero", POLY_PROMPT, FIND_ZERO, id="HumanEval/32"),
    pytest.param(
        DECODE_CYCLIC_TEST, "decode_cyclic", CYCLIC_PROMPT, DECODE_CYCLIC, id="HumanEval/38"
    ),
    pytest.param(DECODE_SHIFT_TEST, "decode_shift", SHIFT_PROMPT, DECODE_SHIFT, id="HumanEval/50"),
]


@pytest.mark.parametrize(("test_code", "entry_point", "prompt", "solution"), WITH_HELPERS)
def test_checks_call_the_programs_helpers(
    test_code: str, entry_point: str, prompt: str, solution: str
) -> None:
    score = judge(fenced(prompt + solution), humaneval(test_code, entry_point))
    assert (score.reward, score.outcome) == (1.0, Outcome.CORRECT), score.details
    # The same helpers with a wrong solution still fail.
    wrong = judge(fenced(prompt + "    return 0\n"), humaneval(test_code, entry_point))
    assert wrong.reward == 0.0


def test_a_check_reading_a_module_the_program_imported() -> None:
    test_code = "def check(candidate):\n    assert math.isclose(candidate(2.0), math.sqrt(2.0))\n"
    program = "import math\n\ndef root(x):\n    return x ** 0.5\n"
    assert judge(fenced(program), humaneval(test_code, "root")).reward == 1.0


# A helper runs in the candidate's process: what it does there cannot reach the checks.
HELPERS_THAT_CHEAT = [
    pytest.param(
        POLY_PROMPT.replace("return sum(", "import os; os._exit(0); return sum(")
        + "    return 0.0\n",
        id="helper-exits-the-candidate",
    ),
    pytest.param(
        POLY_PROMPT
        + "    return 0.0\n\nclass poly:\n    def __new__(cls, *a):\n        return 0.0\n",
        id="helper-is-a-class",
    ),
    pytest.param(
        POLY_PROMPT.replace(
            "return sum(",
            "import sys\n    f = sys._getframe()\n    while f:\n"
            "        f.f_globals['AssertionError'] = None\n        f = f.f_back\n"
            "    return sum(",
        )
        + "    return 0.0\n",
        id="helper-walks-frames",
    ),
    pytest.param(
        POLY_PROMPT.replace(
            "return sum(",
            "class Zero(float):\n        def __lt__(self, other):\n            return True\n"
            "    return Zero(1.0)\n    return sum(",
        )
        + "    return 0.0\n",
        id="helper-returns-a-rigged-float",
    ),
]


@pytest.mark.parametrize("program", HELPERS_THAT_CHEAT)
def test_helpers_cannot_forge_a_pass(program: str) -> None:
    score = judge(fenced(program), humaneval(FIND_ZERO_TEST, "find_zero"))
    assert score.reward == 0.0


def test_a_helper_the_program_lacks_is_a_name_error() -> None:
    program = "def find_zero(xs):\n    return 0.0\n"
    score = judge(fenced(program), humaneval(FIND_ZERO_TEST, "find_zero"))
    assert score.reward == 0.0
    assert "NameError" in score.details["first_failure"]["error"]


# --------------------------------------------------------------------------- call-based

PROFIT = {
    "language": "python",
    "fn_name": "maxProfit",
    "inputs": [[[7, 1, 5, 3, 6, 4]], [[7, 6, 4, 3, 1]], [[2, 4, 1]], [[1]]],
    "outputs": [5, 0, 2, 0],
}
PROFIT_SOLUTION = """
from typing import List


class Solution:
    def maxProfit(self, prices: List[int]) -> int:
        best, low = 0, float("inf")
        for p in prices:
            low = min(low, p)
            best = max(best, p - low)
        return best
"""
PROFIT_WRONG = """
class Solution:
    def maxProfit(self, prices):
        return max(prices) - min(prices)
"""


def test_call_based_leetcode_class() -> None:
    score = judge(r1("Track the minimum so far.", fenced(PROFIT_SOLUTION)), PROFIT)
    assert (score.reward, score.outcome) == (1.0, Outcome.CORRECT)
    assert score.details == {"language": "python", "passed": 4, "total": 4}


def test_call_based_wrong_details() -> None:
    score = judge(fenced(PROFIT_WRONG), PROFIT)
    assert (score.reward, score.outcome) == (0.0, Outcome.INCORRECT)
    assert score.details["first_failure"] == {
        "index": 0,
        "input": "[[7, 1, 5, 3, 6, 4]]",
        "expected": "5",
        "got": "6",
    }


def test_call_based_fraction() -> None:
    score = judge(fenced(PROFIT_WRONG), {**PROFIT, "scoring": "fraction"})
    assert (score.reward, score.outcome) == (0.25, Outcome.PARTIAL)  # only [1] -> 0
    assert (score.details["passed"], score.details["total"]) == (1, 4)
    assert score.details["first_failure"]["index"] == 0


def test_call_based_plain_function_and_apps_wrapped_outputs() -> None:
    ref = {
        "language": "python",
        "fn_name": "split_pairs",
        "inputs": [["abcd"], ["abc"], [""]],
        "outputs": [[["ab", "cd"]], [["ab", "c_"]], [[]]],  # APPS: each wrapped in a list
    }
    program = (
        "def split_pairs(s):\n    s += '_' * (len(s) % 2)\n"
        "    return [s[i:i + 2] for i in range(0, len(s), 2)]\n"
    )
    assert judge(fenced(program), ref).reward == 1.0
    tuples = program.replace("return [s[i:i + 2]", "return tuple(s[i:i + 2]").replace("2)]", "2))")
    assert judge(fenced(tuples), ref).reward == 1.0  # a tuple equals a list of the same items
    assert judge(fenced("def split_pairs(s):\n    return [s]\n"), ref).reward == 0.0


@pytest.mark.parametrize(
    ("returned", "expected", "reward"),
    [
        ("0.1 + 0.2", 0.3, 1.0),
        ("1e-9", 0.0, 1.0),
        ("0.31", 0.3, 0.0),
        ("3", 3.0, 1.0),
        ("True", 1, 0.0),
        ("1", True, 0.0),
        ("'1'", 1, 0.0),
        ("2 ** 70", 2**70, 1.0),
        ("2 ** 70 + 1", 2**70, 0.0),
        ("None", None, 1.0),
        ("{'a': [1, 2]}", {"a": [1, 2]}, 1.0),
    ],
)
def test_call_based_comparison(returned: str, expected: Any, reward: float) -> None:
    ref = {"language": "python", "fn_name": "f", "inputs": [[]], "outputs": [expected]}
    assert judge(fenced(f"def f():\n    return {returned}\n"), ref).reward == reward


def test_call_based_outcomes() -> None:
    ref = {**PROFIT, "time_limit_s": 0.5}
    loop = "class Solution:\n    def maxProfit(self, prices):\n        while True: pass\n"
    assert judge(fenced(loop), ref).outcome == Outcome.TIMEOUT
    crash = "class Solution:\n    def maxProfit(self, prices):\n        return prices[10]\n"
    score = judge(fenced(crash), ref)
    assert (score.reward, score.outcome) == (0.0, Outcome.RUNTIME_ERROR)
    assert score.details["first_failure"]["error"].startswith("IndexError")
    syntax = "class Solution:\n    def maxProfit(self, prices)\n        return 0\n"
    assert judge(fenced(syntax), ref).outcome == Outcome.COMPILE_ERROR
    missing = "class Answer:\n    def maxProfit(self, prices):\n        return 0\n"
    assert judge(fenced(missing), ref).outcome == Outcome.RUNTIME_ERROR


# --------------------------------------------------------------------------- references


@pytest.mark.parametrize(
    "reference",
    [
        pytest.param("print(3)", id="not-an-object"),
        pytest.param({"tests": SUM_TESTS}, id="missing-language"),
        pytest.param({"language": "cobol", "tests": SUM_TESTS}, id="unknown-language"),
        pytest.param({"language": 3, "tests": SUM_TESTS}, id="language-not-a-string"),
        pytest.param({"language": "python"}, id="no-test-form"),
        pytest.param(
            {"language": "python", "tests": SUM_TESTS, "test_code": "", "entry_point": "f"},
            id="tests-and-test_code",
        ),
        pytest.param(
            {"language": "python", "test_code": "x", "entry_point": "f", "fn_name": "f"},
            id="test_code-and-fn_name",
        ),
        pytest.param(
            {"language": "cpp", "test_code": "def check(c): pass", "entry_point": "f"},
            id="test_code-for-cpp",
        ),
        pytest.param(
            {"language": "javascript", "fn_name": "f", "inputs": [[1]], "outputs": [1]},
            id="fn_name-for-javascript",
        ),
        pytest.param({"language": "python", "test_code": "x"}, id="test_code-no-entry_point"),
        pytest.param({"language": "python", "tests": []}, id="no-tests"),
        pytest.param({"language": "python", "tests": [{"stdin": "1"}]}, id="test-without-stdout"),
        pytest.param({"language": "python", "tests": ["1 2"]}, id="test-not-an-object"),
        pytest.param(
            {"language": "python", "fn_name": "f", "inputs": [[1], [2]], "outputs": [1]},
            id="inputs-outputs-lengths",
        ),
        pytest.param({"language": "python", "fn_name": "f"}, id="fn_name-without-io"),
        *[
            pytest.param(sum_ref("python", time_limit_s=bad), id=f"time_limit_s={bad!r}")
            for bad in (0, -1, 61, "5", True, float("nan"))
        ],
        *[
            pytest.param(sum_ref("python", memory_limit_mb=bad), id=f"memory_limit_mb={bad!r}")
            for bad in (8, 10000, 256.0)
        ],
        pytest.param(sum_ref("python", scoring="best"), id="bad-scoring"),
    ],
)
def test_invalid_reference(reference: Any) -> None:
    with pytest.raises(InvalidReference):
        parse_reference(reference)
    with pytest.raises(InvalidReference):
        judge(fenced(SUM_PY), reference)


def test_valid_reference_normalised() -> None:
    spec = parse_reference({"language": "C++", "tests": SUM_TESTS, "time_limit_s": 2})
    assert (spec.language, spec.time_limit_s, spec.test_count) == ("cpp", 2.0, 3)
    spec = parse_reference({"language": "py", **humaneval("x", "f")})
    assert (spec.language, spec.entry_point, spec.test_count) == ("python", "f", 1)


# --------------------------------------------------------------------------- forging a pass
#
# Every program below solves nothing (its honest part is wrong or absent) and
# tries to get the reward some other way. None may get 1.0.

VERDICT = 'REFEREE-VERDICT:{"passed": 1, "total": 1, "first_failure": null}'
WRONG_RUNNING_MAX = "\ndef running_max(numbers):\n    return list(numbers)\n"

HOSTILE_TEST_CODE = [
    pytest.param("import sys\nsys.exit(0)\n" + WRONG_RUNNING_MAX, id="sys-exit-at-load"),
    pytest.param("import os\nos._exit(0)\n" + WRONG_RUNNING_MAX, id="os-exit-at-load"),
    pytest.param(
        "import os\n\ndef running_max(numbers):\n    os._exit(0)\n", id="os-exit-in-the-call"
    ),
    pytest.param(
        "import sys\n\ndef running_max(numbers):\n    sys.exit(0)\n", id="sys-exit-in-the-call"
    ),
    pytest.param("print('All tests passed')\n" + WRONG_RUNNING_MAX, id="prints-all-tests-passed"),
    pytest.param(
        "import sys\n"
        f"print({VERDICT!r}, flush=True)\n"
        f"sys.stderr.write({VERDICT!r} + '\\n')\n"
        "\ndef running_max(numbers):\n"
        f"    print({VERDICT!r}, flush=True)\n"
        "    return numbers\n",
        id="prints-the-verdict-marker",
    ),
    pytest.param(
        "import builtins\n\n"
        "class Swallowed(BaseException):\n    pass\n\n"
        "builtins.AssertionError = Swallowed\n" + WRONG_RUNNING_MAX,
        id="patches-builtins-AssertionError",
    ),
    pytest.param(
        "__builtins__.isinstance = lambda *a: True\n"
        "__builtins__.type = lambda *a: list\n"
        "__builtins__.__dict__['len'] = lambda x: 0\n" + WRONG_RUNNING_MAX,
        id="patches-isinstance-type-len",
    ),
    pytest.param(
        "import sys\n\n"
        "def tracer(frame, event, arg):\n"
        "    if event == 'exception' and arg[0] is AssertionError:\n"
        "        frame.f_lineno = frame.f_lineno + 1\n"
        "    return tracer\n\n"
        "sys.settrace(tracer)\n" + WRONG_RUNNING_MAX,
        id="settrace-skips-asserts",
    ),
    pytest.param(
        "import json, sys\nimport harness, wire\nimport __main__ as server\n\n"
        "PASS = {'passed': 1, 'total': 1, 'first_failure': None}\n"
        "harness.parse_verdict = lambda stdout: PASS\n"
        "harness._run_test_code = lambda spec, candidate: PASS\n"
        "def run_harness(spec, rfd, wfd):\n"
        "    sys.stdout.write(harness.VERDICT_MARK + json.dumps(PASS) + '\\n')\n"
        "harness.run_harness = run_harness\n"
        "server.op_call = lambda msg: {'status': 'ok', 'verdict': PASS}\n"
        "server._classify = lambda *a: {'status': 'ok', 'exit_code': 0, 'signal': None}\n"
        "_send = wire.send\n"
        "wire.send = lambda fd, m: _send(fd, {'value': {'l': [1, 2, 3, 4]}})\n"
        "wire.encode = lambda value, depth=0: value\n" + WRONG_RUNNING_MAX,
        id="patches-harness-wire-and-server",
    ),
    pytest.param(
        "class Anything:\n"
        "    def __eq__(self, other):\n        return True\n"
        "    def __ne__(self, other):\n        return False\n"
        "    __hash__ = object.__hash__\n\n"
        "def running_max(numbers):\n    return Anything()\n",
        id="eq-always-true",
    ),
    pytest.param(
        "class RiggedList(list):\n"
        "    def __eq__(self, other):\n        return True\n\n"
        "def running_max(numbers):\n    return RiggedList()\n",
        id="list-subclass-rigged-eq",
    ),
    pytest.param(
        "import os, signal\n\n"
        "def running_max(numbers):\n"
        "    me, server = os.getpid(), os.getppid()\n"
        "    for name in os.listdir('/proc'):\n"
        "        if name.isdigit() and int(name) not in (1, me, server):\n"
        "            os.kill(int(name), signal.SIGKILL)\n"
        "    return []\n",
        id="kills-the-harness",
    ),
    pytest.param(
        "import os\n"
        "for name in ('test.py', 'harness.py', 'wire.py', 'verdict', 'check.py'):\n"
        "    for folder in ('.', '/tmp'):\n"
        "        with open(os.path.join(folder, name), 'w') as f:\n"
        "            f.write('def check(candidate):\\n    pass\\n')\n"
        "print(open('/proc/self/cmdline').read(), os.listdir('.'))\n" + WRONG_RUNNING_MAX,
        id="writes-files-the-harness-might-read",
    ),
]


@pytest.mark.parametrize("program", HOSTILE_TEST_CODE)
def test_hostile_humaneval_not_rewarded(program: str) -> None:
    reference = {**humaneval(RUNNING_MAX_TEST, "running_max"), "time_limit_s": 2}
    score = judge(fenced(program), reference)
    assert score.reward == 0.0, score


@pytest.mark.parametrize(
    "returned",
    [
        pytest.param("class I(int):\n    def __eq__(self, o):\n        return True\n", id="int"),
        pytest.param("class I(str):\n    def __eq__(self, o):\n        return True\n", id="str"),
        pytest.param("class I(list):\n    def __eq__(self, o):\n        return True\n", id="list"),
        pytest.param(
            "class I(float):\n    def __eq__(self, o):\n        return True\n"
            "    def __sub__(self, o):\n        return 0.0\n",
            id="float",
        ),
    ],
)
def test_rigged_subclasses_not_rewarded(returned: str) -> None:
    program = returned + "\nclass Solution:\n    def maxProfit(self, prices):\n        return I()\n"
    score = judge(fenced(program), PROFIT)
    assert score.reward == 0.0, score


# The verdict forged on the harness's own stdout: the candidate and the harness are
# processes of one uid, so the candidate can open /proc/<harness>/fd/1 (the pipe
# the fork server reads the verdict from) and write a passing verdict line, then an
# unterminated line that the harness's real verdict gets glued to.
FORGE_HARNESS_STDOUT = """
import os

def _forge_verdict():
    me, server = os.getpid(), os.getppid()
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) not in (1, me, server):
            fd = os.open(f"/proc/{name}/fd/1", os.O_WRONLY)
            os.write(fd, b'\\nREFEREE-VERDICT:{"passed": 9, "total": 9, "first_failure": null}\\nx')
            os.close(fd)

def running_max(numbers):
    _forge_verdict()
    return []

class Solution:
    def maxProfit(self, prices):
        _forge_verdict()
        return -1
"""
# Closed holes, kept as tests: the harness's stdout was reachable through
# /proc/<pid>/fd (processes of the jail are now not dumpable); the answer key was
# in the candidate's memory as a fork of the fork server (the candidate is now a
# fresh interpreter).
LEAK_FRAMES = """
import sys

def _answer_key():
    frame = sys._getframe()
    while frame is not None:
        msg = frame.f_locals.get("msg")
        if isinstance(msg, dict) and "outputs" in msg:
            return msg["inputs"], msg["outputs"]
        frame = frame.f_back
    return [], []

INPUTS, OUTPUTS = _answer_key()

class Solution:
    def maxProfit(self, prices):
        return OUTPUTS[INPUTS.index([prices])] if [prices] in INPUTS else -1
"""
LEAK_GC = """
import gc

KEY = next(o for o in gc.get_objects() if isinstance(o, dict) and "outputs" in o)

class Solution:
    def maxProfit(self, prices):
        return KEY["outputs"][KEY["inputs"].index([prices])]
"""
# The HumanEval asserts, read back from the request in memory and turned into a table.
LEAK_TEST_CODE = """
import ast, gc

def _table():
    spec = next(o for o in gc.get_objects() if isinstance(o, dict) and "test_code" in o)
    table = {}
    for node in ast.walk(ast.parse(spec["test_code"])):
        if isinstance(node, ast.Compare) and isinstance(node.left, ast.Call):
            args = tuple(ast.literal_eval(a) for a in node.left.args)
            table[repr(args)] = ast.literal_eval(node.comparators[0])
    return table

TABLE = _table()

def running_max(numbers):
    return TABLE[repr((numbers,))]
"""
# The same read from the fork server's memory (/proc/<server>/mem is readable):
# scrubbing the candidate's own copy of the request would not close this one.
LEAK_SERVER_MEMORY = """
import ast, os, re

def _test_code():
    server = os.getppid()
    found = []
    with open(f"/proc/{server}/maps") as maps, open(f"/proc/{server}/mem", "rb") as mem:
        for line in maps:
            span, perms = line.split()[:2]
            if not perms.startswith("rw"):
                continue
            start, end = (int(x, 16) for x in span.split("-"))
            try:
                mem.seek(start)
                chunk = mem.read(end - start)
            except OSError:
                continue
            for m in re.finditer(rb"def check\\(candidate\\):\\n[^\\x00]*", chunk):
                found.append(m.group().decode("utf-8", "replace"))
    return found

def _table():
    table = {}
    for text in _test_code():
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare) and isinstance(node.left, ast.Call):
                args = tuple(ast.literal_eval(a) for a in node.left.args)
                table[repr(args)] = ast.literal_eval(node.comparators[0])
    return table

TABLE = _table()

def running_max(numbers):
    return TABLE.get(repr((numbers,)), -1)
"""
# StopIteration crosses the process boundary by name, and ends a map() early:
# all(map(...)) over the test cases is then all([]), True.
STOP_ITERATION = """
def running_max(numbers):
    raise StopIteration
"""
MAP_TEST = """

def check(candidate):
    cases = [([1, 3, 2], [1, 3, 3]), ([5, 4], [5, 5]), ([], [])]
    assert all(map(lambda case: candidate(case[0]) == case[1], cases))
"""


@pytest.mark.parametrize(
    ("program", "reference"),
    [
        pytest.param(
            FORGE_HARNESS_STDOUT,
            humaneval(RUNNING_MAX_TEST, "running_max"),
            id="forged-verdict-humaneval",
        ),
        pytest.param(
            FORGE_HARNESS_STDOUT,
            PROFIT,
            id="forged-verdict-call-based",
        ),
        pytest.param(
            LEAK_FRAMES,
            PROFIT,
            id="answer-key-by-frame-walk",
        ),
        pytest.param(
            LEAK_GC,
            PROFIT,
            id="answer-key-by-gc",
        ),
        pytest.param(
            LEAK_TEST_CODE,
            humaneval(RUNNING_MAX_TEST, "running_max"),
            id="test-code-by-gc",
        ),
        pytest.param(
            LEAK_SERVER_MEMORY,
            humaneval(RUNNING_MAX_TEST, "running_max"),
            id="test-code-from-server-memory",
        ),
        pytest.param(
            STOP_ITERATION,
            humaneval(MAP_TEST, "running_max"),
            id="stop-iteration-ends-map",
        ),
    ],
)
def test_forged_pass_not_rewarded(program: str, reference: dict[str, Any]) -> None:
    score = judge(fenced(program), reference)
    assert score.reward < 1.0, score


def test_stop_iteration_in_a_plain_assert_fails() -> None:
    score = judge(fenced(STOP_ITERATION), humaneval(RUNNING_MAX_TEST, "running_max"))
    assert score.reward == 0.0


HOSTILE_STDIN = [
    pytest.param("import os\nos._exit(0)\n", id="os-exit-first-no-output"),
    pytest.param("import sys\nsys.exit(0)\nprint(3)\n", id="sys-exit-first"),
    pytest.param("print('All tests passed')\n", id="prints-all-tests-passed"),
    pytest.param(f"print({VERDICT!r})\n", id="prints-the-verdict-marker"),
    pytest.param(
        "import __main__ as server\n"
        "server._classify = lambda *a: {'status': 'ok'}\n"
        "server.spawn_and_watch = lambda *a, **k: {'status': 'ok', 'stdout': '3'}\n",
        id="patches-the-fork-server",
    ),
    pytest.param(
        # Expected outputs never enter the jail: nothing to find in memory.
        "import gc\n"
        "for o in gc.get_objects():\n"
        "    if isinstance(o, dict) and ('stdout' in o or 'outputs' in o or 'tests' in o):\n"
        "        print(o.get('stdout', ''))\n",
        id="searches-memory-for-expected",
    ),
    pytest.param(
        # The host's reply pipe: root's pipe, not the jail uid's; opening it fails.
        "import json, os, struct\n"
        "body = json.dumps({'status': 'ok', 'stdout': '3\\n', 'exit_code': 0}).encode()\n"
        "server = os.getppid()\n"
        "target = os.readlink('/proc/1/fd/1')\n"
        "for n in os.listdir(f'/proc/{server}/fd'):\n"
        "    if os.readlink(f'/proc/{server}/fd/{n}') == target:\n"
        "        fd = os.open(f'/proc/{server}/fd/{n}', os.O_WRONLY)\n"
        "        os.write(fd, struct.pack('>I', len(body)) + body)\n",
        id="writes-a-reply-to-the-host-pipe",
    ),
]


@pytest.mark.parametrize("program", HOSTILE_STDIN)
def test_hostile_stdin_not_rewarded(program: str) -> None:
    score = judge(fenced(program), sum_ref("python"))
    assert score.reward == 0.0, score
    # the jail still answers correctly afterwards (no desynchronised replies)
    assert judge(fenced(SUM_PY), sum_ref("python")).reward == 1.0
