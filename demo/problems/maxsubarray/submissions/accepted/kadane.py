import sys

data = sys.stdin.buffer.read().split()
values = list(map(int, data[1 : 1 + int(data[0])]))
best = current = values[0]
for value in values[1:]:
    current = value if current < 0 else current + value
    if current > best:
        best = current
print(best)
