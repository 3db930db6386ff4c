"""Write the secret test data of Best Stretch: python3 generators/gen.py (from the package folder)."""

import random
from pathlib import Path

SECRET = Path(__file__).resolve().parent.parent / "data" / "secret"
LIMIT = 10**9


def best(values: list[int]) -> int:
    result = current = values[0]
    for value in values[1:]:
        current = max(value, current + value)
        result = max(result, current)
    return result


def write(group: str, name: str, values: list[int]) -> None:
    folder = SECRET / group
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.in").write_text(f"{len(values)}\n{' '.join(map(str, values))}\n")
    (folder / f"{name}.ans").write_text(f"{best(values)}\n")


def main() -> None:
    random.seed(2718)
    write("group1", "01-single", [-7])
    write("group1", "02-all-negative", [-5, -2, -9, -3])
    write("group1", "03-random", [random.randint(-1000, 1000) for _ in range(60)])
    write("group1", "04-max-size", [random.randint(-1000, 1000) for _ in range(100)])
    write("group2", "01-zeros", [0] * 1000)
    write("group2", "02-random", [random.randint(0, LIMIT) for _ in range(2000)])
    write("group2", "03-large", [random.randint(0, LIMIT) for _ in range(50_000)])
    write("group3", "01-all-negative-large", [random.randint(-LIMIT, -1) for _ in range(5000)])
    write("group3", "02-extremes", [LIMIT if index % 3 else -LIMIT for index in range(3000)])
    write("group3", "03-large-random", [random.randint(-LIMIT, LIMIT) for _ in range(50_000)])
    write("group3", "04-large-positive-bias", [random.randint(-LIMIT // 2, LIMIT) for _ in range(50_000)])


if __name__ == "__main__":
    main()
