"""Write the secret test data of Guess the Number: python3 generators/gen.py (from the package folder).

An input file holds n and the secret number; the answer file holds the secret
number (the interactor reads the input file only).
"""

import random
from pathlib import Path

SECRET = Path(__file__).resolve().parent.parent / "data" / "secret"


def write(name: str, n: int, secret: int) -> None:
    (SECRET / f"{name}.in").write_text(f"{n} {secret}\n")
    (SECRET / f"{name}.ans").write_text(f"{secret}\n")


def main() -> None:
    random.seed(42)
    SECRET.mkdir(parents=True, exist_ok=True)
    write("01-one", 1, 1)
    write("02-two-low", 2, 1)
    write("03-two-high", 2, 2)
    write("04-lowest", 10**9, 1)
    write("05-highest", 10**9, 10**9)
    write("06-power-of-two", 2**29, 2**29)
    for index in range(7, 11):
        n = random.choice([100, 12345, 10**6, 10**9])
        write(f"{index:02d}-random", n, random.randint(1, n))


if __name__ == "__main__":
    main()
