n, amount = map(int, input().split())
coins = sorted(set(map(int, input().split())))
unreachable = amount + 1
best = [0] + [unreachable] * amount
for value in range(1, amount + 1):
    fewest = unreachable
    for coin in coins:
        if coin > value:
            break
        if best[value - coin] < fewest:
            fewest = best[value - coin]
    best[value] = fewest + 1 if fewest < unreachable else unreachable
print(-1 if best[amount] == unreachable else best[amount])
