"""Write the secret test data of Exact Change: python3 generators/gen.py (from the package folder)."""

import random
from pathlib import Path

SECRET = Path(__file__).resolve().parent.parent / "data" / "secret"


def fewest(coins: list[int], amount: int) -> int:
    unreachable = amount + 1
    best = [0] + [unreachable] * amount
    for value in range(1, amount + 1):
        for coin in coins:
            if coin <= value and best[value - coin] + 1 < best[value]:
                best[value] = best[value - coin] + 1
    return -1 if best[amount] == unreachable else best[amount]


def write(name: str, coins: list[int], amount: int) -> None:
    (SECRET / f"{name}.in").write_text(f"{len(coins)} {amount}\n{' '.join(map(str, coins))}\n")
    (SECRET / f"{name}.ans").write_text(f"{fewest(coins, amount)}\n")


def main() -> None:
    random.seed(1001)
    SECRET.mkdir(parents=True, exist_ok=True)
    write("01-one-coin", [1], 1)
    write("02-greedy-fails", [1, 3, 4], 6)
    write("03-impossible", [4, 6], 7)
    write("04-coin-too-large", [10000], 9999)
    write("05-greedy-fails-large", [1, 3, 4], 10_000)
    write("06-random-small", random.sample(range(1, 50), 5), 97)
    write("07-random-medium", random.sample(range(2, 1000), 20), 5000)
    write("08-random-large", random.sample(range(7, 10_001), 100), 10_000)
    write("09-many-small-coins", list(range(1, 101)), 9_973)
    write("10-even-coins-odd-amount", list(range(2, 201, 2)), 9_999)


if __name__ == "__main__":
    main()
