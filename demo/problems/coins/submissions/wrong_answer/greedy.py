# Pays the largest coin that fits, again and again: not always the fewest coins.
n, amount = map(int, input().split())
coins = sorted(map(int, input().split()), reverse=True)
count = 0
for coin in coins:
    count += amount // coin
    amount %= coin
print(count if amount == 0 else -1)
