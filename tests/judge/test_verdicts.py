"""Real programs in every language get AC, WA, TLE, MLE, RTE and CE."""

from __future__ import annotations

import pytest

from judge.events import Verdict
from judge.languages import get_language
from judge.pool import JudgePool

from .conftest import CaseFiles, judge

pytestmark = [pytest.mark.docker, pytest.mark.asyncio(loop_scope="session")]

MEMORY_LIMIT_MB = 64

# Each program reads n and must print 2n.
PROGRAMS: dict[str, dict[Verdict, str]] = {
    "c": {
        Verdict.AC: '#include <stdio.h>\nint main(void){long n;scanf("%ld",&n);printf("%ld\\n",2*n);return 0;}\n',
        Verdict.WA: '#include <stdio.h>\nint main(void){long n;scanf("%ld",&n);printf("%ld\\n",2*n+1);return 0;}\n',
        Verdict.TLE: "int main(void){volatile unsigned long x=0;for(;;)x++;}\n",
        Verdict.MLE: (
            "#include <stdlib.h>\n#include <string.h>\n"
            "int main(void){for(;;){char*p=malloc(1<<20);if(!p)return 3;memset(p,7,1<<20);}}\n"
        ),
        Verdict.RTE: "int main(void){volatile int*p=0;*p=1;return 0;}\n",
        Verdict.CE: "int main(void){return x;}\n",
    },
    "cpp": {
        Verdict.AC: "#include <iostream>\nint main(){long n;std::cin>>n;std::cout<<2*n<<'\\n';}\n",
        Verdict.WA: "#include <iostream>\nint main(){long n;std::cin>>n;std::cout<<n<<'\\n';}\n",
        Verdict.TLE: "int main(){volatile unsigned long x=0;for(;;)x++;}\n",
        Verdict.MLE: (
            "#include <vector>\n#include <cstring>\n"
            "int main(){std::vector<char*> v;for(;;){char*p=new char[1<<20];std::memset(p,7,1<<20);v.push_back(p);}}\n"
        ),
        Verdict.RTE: '#include <stdexcept>\nint main(){throw std::runtime_error("boom");}\n',
        Verdict.CE: "int main(){ std::vector<int> v; }\n",
    },
    "cpp20": {
        Verdict.AC: "#include <iostream>\n#include <span>\nint main(){long n;std::cin>>n;auto v=std::to_array({2L});std::span s{v};std::cout<<s[0]*n<<'\\n';}\n",
        Verdict.WA: "#include <iostream>\nint main(){std::cout<<\"no\\n\";}\n",
        Verdict.TLE: "int main(){volatile unsigned long x=0;for(;;)x++;}\n",
        Verdict.MLE: (
            "#include <vector>\n#include <cstring>\n"
            "int main(){std::vector<char*> v;for(;;){char*p=new char[1<<20];std::memset(p,7,1<<20);v.push_back(p);}}\n"
        ),
        Verdict.RTE: "#include <cstdlib>\nint main(){std::abort();}\n",
        # Designated initializers out of order are an error in C++20.
        Verdict.CE: "struct P{int a,b;};\nint main(){P p{.b=1,.a=2};return p.a;}\n",
    },
    "python3": {
        Verdict.AC: "n = int(input())\nprint(2 * n)\n",
        Verdict.WA: "n = int(input())\nprint(2 * n - 1)\n",
        Verdict.TLE: "x = 0\nwhile True:\n    x += 1\n",
        Verdict.MLE: "chunks = []\nwhile True:\n    chunks.append(bytearray(1 << 20))\n",
        Verdict.RTE: "raise SystemExit(3)\n",
        Verdict.CE: "def f(:\n    pass\n",
    },
    "java": {
        Verdict.AC: (
            "import java.util.*;\npublic class Main { public static void main(String[] a) {"
            " Scanner s = new Scanner(System.in); System.out.println(2 * s.nextLong()); } }\n"
        ),
        Verdict.WA: "public class Main { public static void main(String[] a) { System.out.println(0); } }\n",
        Verdict.TLE: "public class Main { public static void main(String[] a) { long x = 0; while (true) { x++; if (x < 0) System.out.println(x); } } }\n",
        Verdict.MLE: (
            "import java.util.*;\npublic class Main { public static void main(String[] a) {"
            " List<long[]> l = new ArrayList<>(); while (true) l.add(new long[1 << 17]); } }\n"
        ),
        Verdict.RTE: "public class Main { public static void main(String[] a) { throw new IllegalStateException(); } }\n",
        Verdict.CE: "public class Main { public static void main(String[] a) { int x = \"s\"; } }\n",
    },
    "javascript": {
        Verdict.AC: "const n = Number(require('fs').readFileSync(0, 'utf8'));\nconsole.log(2 * n);\n",
        Verdict.WA: "console.log('wrong');\n",
        Verdict.TLE: "let x = 0;\nfor (;;) { x++; }\n",
        Verdict.MLE: "const a = [];\nfor (;;) { a.push(new Array(1 << 16).fill(1.5)); }\n",
        Verdict.RTE: "throw new Error('boom');\n",
        Verdict.CE: "function f( {\n",
    },
}

CASES = [(language, verdict) for language, programs in PROGRAMS.items() for verdict in programs]


@pytest.mark.parametrize(("language", "verdict"), CASES, ids=[f"{language}-{verdict}" for language, verdict in CASES])
async def test_program_gets_verdict(judge_pool: JudgePool, case_files: CaseFiles, language: str, verdict: Verdict) -> None:
    tests = (case_files.case("21\n", "42\n"), case_files.case("5\n", "10\n"))
    result = await judge(
        judge_pool,
        language=language,
        source=PROGRAMS[language][verdict],
        tests=tests,
        time_limit_ms=500,
        memory_limit_mb=MEMORY_LIMIT_MB,
    )

    assert result.final.verdict == verdict, result
    assert result.final.internal_error is None
    assert result.compiled is not None
    assert result.compiled.success == (verdict != Verdict.CE)
    if verdict == Verdict.CE:
        assert result.compiled.output.strip(), "a compilation error comes with the compiler's message"
        assert result.tests == []
        return
    if verdict == Verdict.AC:
        assert [test.verdict for test in result.tests] == [Verdict.AC, Verdict.AC]
        assert result.final.passed == 2
        return
    # ICPC mode: judging stops at the first failing test.
    assert [test.verdict for test in result.tests] == [verdict]
    assert result.final.passed == 0
    if verdict == Verdict.MLE:
        assert result.tests[0].memory_kb >= MEMORY_LIMIT_MB * 1024
    if verdict == Verdict.TLE:
        # Past the language's own limit, also where it is a whole number of seconds (Java: 1000 ms).
        assert result.tests[0].time_ms > get_language(language).time_limit_ms(500)
