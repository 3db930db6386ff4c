# Breadth-first search: finds the route with the fewest streets, not the fastest.
import sys
from collections import deque

data = sys.stdin.buffer.read().split()
n, m = int(data[0]), int(data[1])
adjacent = [[] for _ in range(n + 1)]
for i in range(m):
    u, v, w = int(data[2 + 3 * i]), int(data[3 + 3 * i]), int(data[4 + 3 * i])
    adjacent[u].append((v, w))
    adjacent[v].append((u, w))

previous = [None] * (n + 1)
previous[1] = (0, 0)
queue = deque([1])
while queue:
    node = queue.popleft()
    for neighbour, w in adjacent[node]:
        if previous[neighbour] is None:
            previous[neighbour] = (node, w)
            queue.append(neighbour)

if previous[n] is None:
    print(-1)
else:
    route, total = [n], 0
    while route[-1] != 1:
        node, w = previous[route[-1]]
        total += w
        route.append(node)
    route.reverse()
    print(total)
    print(len(route))
    print(" ".join(map(str, route)))
