"""Write the secret test data of Triangle Area: python3 generators/gen.py (from the package folder)."""

import math
import random
from pathlib import Path

SECRET = Path(__file__).resolve().parent.parent / "data" / "secret"


def area(a: float, b: float, c: float) -> float:
    # The stable form of Heron's formula (sides sorted descending), good for needle-like triangles.
    a, b, c = sorted((a, b, c), reverse=True)
    return 0.25 * math.sqrt((a + (b + c)) * (c - (a - b)) * (c + (a - b)) * (a + (b - c)))


def triangle(scale: float) -> tuple[float, float, float]:
    while True:
        a, b = random.uniform(0.01, scale), random.uniform(0.01, scale)
        c = random.uniform(abs(a - b), a + b)
        sides = tuple(round(side, 3) for side in (a, b, c))
        x, y, z = sorted(sides)
        if x > 0 and x + y > z + 1e-3:
            return sides


def write(name: str, triangles: list[tuple[float, float, float]]) -> None:
    lines = [str(len(triangles))] + [" ".join(f"{side:.10g}" for side in sides) for sides in triangles]
    (SECRET / f"{name}.in").write_text("\n".join(lines) + "\n")
    (SECRET / f"{name}.ans").write_text("".join(f"{area(*sides):.9f}\n" for sides in triangles))


def main() -> None:
    random.seed(314159)
    SECRET.mkdir(parents=True, exist_ok=True)
    write("01-right", [(3, 4, 5), (5, 12, 13)])
    write("02-equilateral", [(1, 1, 1), (10000, 10000, 10000)])
    write("03-tiny", [(0.001, 0.001, 0.001), (0.01, 0.02, 0.025)])
    write("04-needle", [(10000, 9999.999, 0.002), (5000, 5000, 9999.99)])
    for index, (count, scale) in enumerate([(10, 10), (100, 1000), (1000, 10000), (10000, 10000)], start=5):
        write(f"{index:02d}-random", [triangle(scale) for _ in range(count)])


if __name__ == "__main__":
    main()
