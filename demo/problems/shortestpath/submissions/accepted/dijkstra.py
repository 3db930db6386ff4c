import heapq
import sys

data = sys.stdin.buffer.read().split()
n, m = int(data[0]), int(data[1])
adjacent = [[] for _ in range(n + 1)]
for i in range(m):
    u, v, w = int(data[2 + 3 * i]), int(data[3 + 3 * i]), int(data[4 + 3 * i])
    adjacent[u].append((v, w))
    adjacent[v].append((u, w))

INFINITY = float("inf")
distance = [INFINITY] * (n + 1)
previous = [0] * (n + 1)
distance[1] = 0
queue = [(0, 1)]
while queue:
    d, node = heapq.heappop(queue)
    if d > distance[node]:
        continue
    for neighbour, w in adjacent[node]:
        if d + w < distance[neighbour]:
            distance[neighbour] = d + w
            previous[neighbour] = node
            heapq.heappush(queue, (d + w, neighbour))

if distance[n] == INFINITY:
    print(-1)
else:
    route = [n]
    while route[-1] != 1:
        route.append(previous[route[-1]])
    route.reverse()
    print(distance[n])
    print(len(route))
    print(" ".join(map(str, route)))
