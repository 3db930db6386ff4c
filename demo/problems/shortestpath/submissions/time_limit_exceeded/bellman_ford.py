# Relaxes every street n - 1 times: correct, but about 5 * 10^8 steps.
import sys

data = sys.stdin.buffer.read().split()
n, m = int(data[0]), int(data[1])
streets = [(int(data[2 + 3 * i]), int(data[3 + 3 * i]), int(data[4 + 3 * i])) for i in range(m)]
INFINITY = float("inf")
distance = [INFINITY] * (n + 1)
previous = [0] * (n + 1)
distance[1] = 0
for _ in range(n - 1):
    for u, v, w in streets:
        if distance[u] + w < distance[v]:
            distance[v] = distance[u] + w
            previous[v] = u
        if distance[v] + w < distance[u]:
            distance[u] = distance[v] + w
            previous[u] = v
if distance[n] == INFINITY:
    print(-1)
else:
    route = [n]
    while route[-1] != 1:
        route.append(previous[route[-1]])
    print(distance[n])
    print(len(route))
    print(" ".join(map(str, reversed(route))))
