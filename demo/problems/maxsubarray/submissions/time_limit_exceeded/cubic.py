# Tries every stretch and sums it from scratch: scores group 1 only.
n = int(input())
values = list(map(int, input().split()))
best = values[0]
for i in range(n):
    for j in range(i, n):
        best = max(best, sum(values[i : j + 1]))
print(best)
