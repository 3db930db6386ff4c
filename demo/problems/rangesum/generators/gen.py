"""Write the secret test data of Range Sums: python3 generators/gen.py (from the package folder)."""

import itertools
import random
from pathlib import Path

SECRET = Path(__file__).resolve().parent.parent / "data" / "secret"
LIMIT = 10**9


def write(name: str, values: list[int], queries: list[tuple[int, int]]) -> None:
    prefix = [0, *itertools.accumulate(values)]
    lines = [f"{len(values)} {len(queries)}", " ".join(map(str, values))]
    lines += [f"{left} {right}" for left, right in queries]
    (SECRET / f"{name}.in").write_text("\n".join(lines) + "\n")
    (SECRET / f"{name}.ans").write_text("".join(f"{prefix[right] - prefix[left - 1]}\n" for left, right in queries))


def random_queries(n: int, count: int) -> list[tuple[int, int]]:
    queries = []
    for _ in range(count):
        left, right = sorted((random.randint(1, n), random.randint(1, n)))
        queries.append((left, right))
    return queries


def main() -> None:
    random.seed(1618)
    SECRET.mkdir(parents=True, exist_ok=True)
    write("01-single", [5], [(1, 1)])
    write("02-whole-row", [LIMIT] * 10, [(1, 10), (1, 1), (10, 10)])
    write("03-negative", [-3, 1, -4, 1, -5, 9], [(1, 6), (2, 5), (3, 3), (4, 6)])
    write("04-random-small", [random.randint(-100, 100) for _ in range(50)], random_queries(50, 50))
    write("05-random-medium", [random.randint(-LIMIT, LIMIT) for _ in range(2000)], random_queries(2000, 2000))
    n = 50_000
    write("06-large-full-ranges", [random.randint(-LIMIT, LIMIT) for _ in range(n)], [(1, n)] * n)
    write("07-large-random", [random.randint(-LIMIT, LIMIT) for _ in range(n)], random_queries(n, n))


if __name__ == "__main__":
    main()
