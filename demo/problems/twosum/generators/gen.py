"""Write the secret test data of Two Sum: python3 generators/gen.py (from the package folder).

Each test has exactly one pair of indices adding up to the target: the other
numbers are drawn so that no second pair does.
"""

import json
import random
from pathlib import Path

SECRET = Path(__file__).resolve().parent.parent / "data" / "secret"
LIMIT = 10**9


def pair_count(nums: list[int], target: int) -> int:
    seen: dict[int, int] = {}
    pairs = 0
    for value in nums:
        pairs += seen.get(target - value, 0)
        seen[value] = seen.get(value, 0) + 1
    return pairs


def make(size: int, spread: int, *, pair_at_end: bool = False) -> tuple[list[int], int, list[int]]:
    while True:
        nums = random.sample(range(-spread, spread + 1), size)
        i, j = (size - 2, size - 1) if pair_at_end else sorted(random.sample(range(size), 2))
        target = nums[i] + nums[j]
        if pair_count(nums, target) == 1:
            return nums, target, [i, j]


def write(name: str, nums: list[int], target: int, answer: list[int]) -> None:
    (SECRET / f"{name}.in").write_text(f"{json.dumps(nums, separators=(',', ':'))}\n{target}\n")
    (SECRET / f"{name}.ans").write_text(f"{json.dumps(answer, separators=(',', ':'))}\n")


def main() -> None:
    random.seed(7)
    SECRET.mkdir(parents=True, exist_ok=True)
    write("01-two-numbers", [1, -1], 0, [0, 1])
    write("02-duplicates", [5, 1, 5], 10, [0, 2])
    write("03-negatives", [-3, -8, 4, 10], -11, [0, 1])
    write("04-extremes", [LIMIT, 0, LIMIT - 1, -LIMIT], 2 * LIMIT - 1, [0, 2])
    for index, (size, spread) in enumerate([(10, 50), (100, 1000), (1000, 10**6), (5000, LIMIT)], start=5):
        write(f"{index:02d}-random", *make(size, spread))
    # The pair sits at the very end, so a quadratic search needs about n^2/2 steps.
    write("09-large-pair-at-end", *make(20_000, LIMIT, pair_at_end=True))
    write("10-large-random", *make(20_000, LIMIT))


if __name__ == "__main__":
    main()
