"""The table of judged languages and the check that tells which of them work."""

from __future__ import annotations

import re

import msgspec


class ImageRecipe(msgspec.Struct, frozen=True):
    """What goes into one judge image on top of a Debian minbase root file system."""

    name: str
    packages: tuple[str, ...]
    # Shell commands run as root in the image after the packages are installed.
    setup: tuple[str, ...] = ()


class Language(msgspec.Struct, frozen=True):
    """One judged language.

    Commands are argv lists. `{source}` is the source file name, `{main}` the
    Java class to start and `{memory_mb}` the problem's memory limit. An empty
    `compile` would skip the build step, but every language has one so that
    syntax errors are reported as CE.
    """

    id: str
    name: str
    image: ImageRecipe
    source_name: str
    compile: tuple[str, ...]
    run: tuple[str, ...]
    version_command: tuple[str, ...]
    version_pattern: str
    # Multiplies the problem's CPU time limit for this language (see LANGUAGES).
    time_multiplier: float
    self_test_source: str
    # Java: a public class gives its name to the file and to `{main}`.
    main_class_pattern: str | None = None
    # A compile server for warm containers: started before the job, it warms up, then reads the
    # source file name as one line on stdin, compiles it as `compile` would and exits with its status.
    compile_server: tuple[str, ...] = ()

    def time_limit_ms(self, problem_time_limit_ms: int) -> int:
        """Return the CPU time limit of a program in this language for a problem's time limit."""
        return max(1, round(problem_time_limit_ms * self.time_multiplier))


# The C++ standards of the languages below, each with its own precompiled headers.
CPP_STANDARDS = ("gnu++17", "gnu++20")

# Precompiled <iostream> and <bits/stdc++.h>, the usual first include of contest programs. Each
# header gets a `.gch` directory next to it, and g++ uses the file in it that matches the compile's
# flags. When none matches, or the program first defines a macro the header uses, g++ parses
# the header itself.
# In a judge container on a 2-CPU machine they cut the compile of an <iostream> program from
# about 270 ms to 60 ms, and of a <bits/stdc++.h> one from about 1.7 s to 0.25 s.
_PRECOMPILE_HEADERS = (
    'version="$(g++ -dumpversion)"; multiarch="$(g++ -print-multiarch)"; '
    'for header in "/usr/include/c++/$version/iostream" "/usr/include/$multiarch/c++/$version/bits/stdc++.h"; do '
    'mkdir "$header.gch"; '
    f"for standard in {' '.join(CPP_STANDARDS)}; do "
    'g++ -std="$standard" -O2 -w -x c++-header "$header" -o "$header.gch/$standard"; '
    "done; done"
)

GCC_IMAGE = ImageRecipe(name="gcc", packages=("gcc", "g++", "libc6-dev"), setup=(_PRECOMPILE_HEADERS,))
PYTHON_IMAGE = ImageRecipe(name="python", packages=("python3",))
# Java's compile server: javac in a JVM that has compiled a small class WARM_ROUNDS times, so a
# warm container saves the start of javac (about 0.5 s in a judge container) and its warm-up. In a
# judge container a later compile took 52 ms after one round and 19 ms after 20.
_JAVA_COMPILE_SERVER = """\
import java.io.*;
import java.nio.file.*;
import javax.tools.*;

public class CompileServer {
    private static final int WARM_ROUNDS = 20;

    public static void main(String[] args) throws Exception {
        JavaCompiler compiler = ToolProvider.getSystemJavaCompiler();
        Path warm = Files.createTempDirectory("warm");
        Path source = warm.resolve("Warm.java");
        Files.writeString(source, "import java.util.*; public class Warm { public static void main(String[] a) {"
            + " Scanner in = new Scanner(System.in); System.out.println(in.nextLong() + in.nextLong()); } }");
        OutputStream quiet = OutputStream.nullOutputStream();
        for (int round = 0; round < WARM_ROUNDS; round++) {
            compiler.run(null, quiet, quiet, "-d", warm.toString(), source.toString());
        }
        String name = new BufferedReader(new InputStreamReader(System.in)).readLine();
        if (name == null) System.exit(2);
        System.exit(compiler.run(null, null, null, "-encoding", "UTF-8", name.trim()));
    }
}
"""
COMPILE_SERVER_DIR = "/opt/codearena"

# A class data sharing archive of the JDK classes that contest programs load (input parsing,
# collections, output), so a Java program starts faster: about 75 -> 70 ms for the self-test
# program in a judge container. The JVM maps it read-only and falls back to its own archive
# if it cannot.
JAVA_CDS_ARCHIVE = f"{COMPILE_SERVER_DIR}/java.jsa"
_JAVA_CDS_PROGRAM = """\
import java.io.*;
import java.util.*;

public class Typical {
    public static void main(String[] args) throws IOException {
        BufferedReader reader = new BufferedReader(new InputStreamReader(System.in));
        StringTokenizer tokens = new StringTokenizer(reader.readLine());
        Scanner scanner = new Scanner("3 4");
        long sum = Long.parseLong(tokens.nextToken()) + scanner.nextLong();
        List<Integer> list = new ArrayList<>(List.of(3, 1, 2));
        Collections.sort(list);
        Map<String, Integer> map = new HashMap<>();
        map.merge("a", 1, Integer::sum);
        int[] array = {3, 1, 2};
        Arrays.sort(array);
        PrintWriter out = new PrintWriter(new BufferedWriter(new OutputStreamWriter(System.out)));
        out.println(String.format("%d %s %s %d", sum, list, map, array[0]) + new TreeMap<>(map) + new ArrayDeque<>(list));
        out.flush();
    }
}
"""

JAVA_IMAGE = ImageRecipe(
    name="java",
    packages=("openjdk-17-jdk-headless",),
    setup=(
        f"mkdir -p {COMPILE_SERVER_DIR} && cat > {COMPILE_SERVER_DIR}/CompileServer.java <<'END'\n"
        f"{_JAVA_COMPILE_SERVER}END\n"
        f"javac -d {COMPILE_SERVER_DIR} {COMPILE_SERVER_DIR}/CompileServer.java",
        "work=$(mktemp -d) && cd $work && cat > Typical.java <<'END'\n"
        f"{_JAVA_CDS_PROGRAM}END\n"
        "javac Typical.java && echo '1 2' | java -XX:DumpLoadedClassList=loaded.lst -cp . Typical\n"
        'home=$(dirname $(dirname $(readlink -f $(which java))))\n'
        'grep -v "^Typical" loaded.lst | cat - "$home/lib/classlist" > classes.lst\n'
        f"java -Xshare:dump -XX:SharedClassListFile=classes.lst -XX:SharedArchiveFile={JAVA_CDS_ARCHIVE}\n"
        "cd / && rm -rf $work",
    ),
)
NODE_IMAGE = ImageRecipe(name="node", packages=("nodejs",))

# Node's compile server checks the syntax the way `node --check` does for a CommonJS file.
_NODE_COMPILE_SERVER = (
    'const fs = require("fs"), vm = require("vm");'
    'const name = fs.readFileSync(0, "utf8").trim();'
    "try {"
    ' vm.compileFunction(fs.readFileSync(name, "utf8"), ["exports", "require", "module", "__filename", "__dirname"], { filename: name });'
    "} catch (error) {"
    ' process.stderr.write(String((error && error.stack) || error) + "\\n");'
    " process.exit(1);"
    "}"
)

IMAGE_RECIPES: tuple[ImageRecipe, ...] = (GCC_IMAGE, PYTHON_IMAGE, JAVA_IMAGE, NODE_IMAGE)

# Every self-test program reads two integers and prints their sum.
SELF_TEST_INPUT = b"2 3\n"
SELF_TEST_ANSWER = b"5\n"

_C_SELF_TEST = '#include <stdio.h>\nint main(void){long a,b;scanf("%ld %ld",&a,&b);printf("%ld\\n",a+b);return 0;}\n'
_CPP_SELF_TEST = "#include <iostream>\nint main(){long a,b;std::cin>>a>>b;std::cout<<a+b<<'\\n';}\n"

_JAVA_OPTIONS = ("-XX:+UseSerialGC", "-XX:-UsePerfData", "-XX:TieredStopAtLevel=1")

# Time multipliers: compiled C and C++ run at 1x. CPython is about an order of
# magnitude slower than C, but problems are usually set with a C++ reference
# and a margin, so 3x follows common judge practice rather than a measurement.
# The JVM and V8 pay start-up and JIT warm-up in CPU time (JIT threads count
# too), so they get 2x.
LANGUAGES: tuple[Language, ...] = (
    Language(
        id="c",
        name="C (GCC, GNU17)",
        image=GCC_IMAGE,
        source_name="main.c",
        # The gold linker links a C++ program in about 15 ms where ld.bfd takes 50 ms (measured in a judge container).
        compile=("gcc", "-std=gnu17", "-O2", "-pipe", "-fuse-ld=gold", "-o", "main", "{source}", "-lm"),
        run=("./main",),
        version_command=("gcc", "-dumpfullversion"),
        version_pattern=r"(\d+(?:\.\d+)+)",
        time_multiplier=1.0,
        self_test_source=_C_SELF_TEST,
    ),
    Language(
        id="cpp",
        name="C++17 (GCC)",
        image=GCC_IMAGE,
        source_name="main.cpp",
        compile=("g++", "-std=gnu++17", "-O2", "-pipe", "-fuse-ld=gold", "-o", "main", "{source}"),
        run=("./main",),
        version_command=("g++", "-dumpfullversion"),
        version_pattern=r"(\d+(?:\.\d+)+)",
        time_multiplier=1.0,
        self_test_source=_CPP_SELF_TEST,
    ),
    Language(
        id="cpp20",
        name="C++20 (GCC)",
        image=GCC_IMAGE,
        source_name="main.cpp",
        compile=("g++", "-std=gnu++20", "-O2", "-pipe", "-fuse-ld=gold", "-o", "main", "{source}"),
        run=("./main",),
        version_command=("g++", "-dumpfullversion"),
        version_pattern=r"(\d+(?:\.\d+)+)",
        time_multiplier=1.0,
        self_test_source=_CPP_SELF_TEST,
    ),
    Language(
        id="python3",
        name="Python 3 (CPython)",
        image=PYTHON_IMAGE,
        source_name="main.py",
        # compile() checks the syntax without writing __pycache__.
        compile=(
            "python3",
            "-c",
            "import sys; compile(open(sys.argv[1], 'rb').read(), sys.argv[1], 'exec')",
            "{source}",
        ),
        run=("python3", "{source}"),
        version_command=("python3", "--version"),
        version_pattern=r"Python (\S+)",
        time_multiplier=3.0,
        self_test_source="a, b = map(int, input().split())\nprint(a + b)\n",
    ),
    Language(
        id="java",
        name="Java 17 (OpenJDK)",
        image=JAVA_IMAGE,
        source_name="Main.java",
        compile=("javac", "-encoding", "UTF-8", *(f"-J{option}" for option in _JAVA_OPTIONS), "{source}"),
        run=(
            "java",
            "-XX:+UseSerialGC",
            "-XX:-UsePerfData",
            "-Xss64m",
            "-Xmx{memory_mb}m",
            f"-XX:SharedArchiveFile={JAVA_CDS_ARCHIVE}",
            "-cp",
            ".",
            "{main}",
        ),
        version_command=("java", "-version"),
        version_pattern=r'version "([^"]+)"',
        time_multiplier=2.0,
        self_test_source=(
            "import java.util.Scanner;\n"
            "public class Main {\n"
            "    public static void main(String[] args) {\n"
            "        Scanner in = new Scanner(System.in);\n"
            "        System.out.println(in.nextLong() + in.nextLong());\n"
            "    }\n"
            "}\n"
        ),
        main_class_pattern=r"public\s+(?:final\s+|abstract\s+)*class\s+([A-Za-z_$][A-Za-z0-9_$]*)",
        compile_server=("java", *_JAVA_OPTIONS, "-cp", COMPILE_SERVER_DIR, "CompileServer"),
    ),
    Language(
        id="javascript",
        name="JavaScript (Node.js)",
        image=NODE_IMAGE,
        source_name="main.js",
        compile=("node", "--check", "{source}"),
        compile_server=("node", "-e", _NODE_COMPILE_SERVER),
        run=("node", "--max-old-space-size={memory_mb}", "{source}"),
        version_command=("node", "--version"),
        version_pattern=r"v(\S+)",
        time_multiplier=2.0,
        self_test_source=(
            "const [a, b] = require('fs').readFileSync(0, 'utf8').trim().split(/\\s+/).map(Number);\n"
            "console.log(a + b);\n"
        ),
    ),
)

LANGUAGES_BY_ID: dict[str, Language] = {language.id: language for language in LANGUAGES}


def get_language(language_id: str) -> Language:
    try:
        return LANGUAGES_BY_ID[language_id]
    except KeyError:
        known = ", ".join(LANGUAGES_BY_ID)
        raise KeyError(f"unknown language {language_id!r}; known languages: {known}") from None


def main_class(language: Language, source: str) -> str:
    """Return the class to start: the public class of a Java file, else `Main`."""
    if language.main_class_pattern is None:
        return "Main"
    match = re.search(language.main_class_pattern, source)
    return match.group(1) if match else "Main"


def source_file_name(language: Language, source: str) -> str:
    if language.main_class_pattern is None:
        return language.source_name
    return f"{main_class(language, source)}.java"


def expand_command(command: tuple[str, ...], *, source_name: str, main: str, memory_mb: int) -> list[str]:
    return [part.format(source=source_name, main=main, memory_mb=memory_mb) for part in command]
