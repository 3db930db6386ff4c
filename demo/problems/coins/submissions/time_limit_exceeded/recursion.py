# Tries every combination without remembering results: exponential time.
import sys

sys.setrecursionlimit(20_000)
n, amount = map(int, input().split())
# Largest coins first keeps the recursion shallow while it runs out of time.
coins = sorted(map(int, input().split()), reverse=True)


def fewest(left: int) -> float:
    if left == 0:
        return 0
    best = float("inf")
    for coin in coins:
        if coin <= left:
            best = min(best, fewest(left - coin) + 1)
    return best


result = fewest(amount)
print(-1 if result == float("inf") else result)
