# Sums each range from scratch: up to 2.5 * 10^9 additions.
import sys

data = sys.stdin.buffer.read().split()
n, q = int(data[0]), int(data[1])
values = list(map(int, data[2 : 2 + n]))
queries = data[2 + n :]
for k in range(q):
    left, right = int(queries[2 * k]), int(queries[2 * k + 1])
    print(sum(values[left - 1 : right]))
