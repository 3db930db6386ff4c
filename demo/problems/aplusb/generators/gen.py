"""Write the secret test data of A plus B: python3 generators/gen.py (from the package folder)."""

import random
from pathlib import Path

LIMIT = 10**18
SECRET = Path(__file__).resolve().parent.parent / "data" / "secret"


def write(name: str, a: int, b: int) -> None:
    (SECRET / f"{name}.in").write_text(f"{a} {b}\n")
    (SECRET / f"{name}.ans").write_text(f"{a + b}\n")


def main() -> None:
    random.seed(20240501)
    SECRET.mkdir(parents=True, exist_ok=True)
    write("01-zeros", 0, 0)
    write("02-small", 17, 25)
    write("03-negative", -123456, 654321)
    write("04-int32-overflow", 2_000_000_000, 2_000_000_000)
    write("05-extremes", LIMIT, LIMIT)
    write("06-extremes-negative", -LIMIT, -LIMIT)
    write("07-cancel", LIMIT, -LIMIT)
    for index in range(8, 11):
        write(f"{index:02d}-random", random.randint(-LIMIT, LIMIT), random.randint(-LIMIT, LIMIT))


if __name__ == "__main__":
    main()
