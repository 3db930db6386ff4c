"""Write the secret test data of Delivery Route: python3 generators/gen.py (from the package folder).

The answer file holds only the optimal riding time (or -1); the output
validator checks the route itself.
"""

import heapq
import random
from pathlib import Path

SECRET = Path(__file__).resolve().parent.parent / "data" / "secret"


def shortest(n: int, streets: list[tuple[int, int, int]]) -> int:
    adjacent: list[list[tuple[int, int]]] = [[] for _ in range(n + 1)]
    for u, v, w in streets:
        adjacent[u].append((v, w))
        adjacent[v].append((u, w))
    distance = [None] * (n + 1)
    queue = [(0, 1)]
    while queue:
        d, node = heapq.heappop(queue)
        if distance[node] is not None:
            continue
        distance[node] = d
        for neighbour, w in adjacent[node]:
            if distance[neighbour] is None:
                heapq.heappush(queue, (d + w, neighbour))
    return -1 if distance[n] is None else distance[n]


def write(name: str, n: int, streets: list[tuple[int, int, int]]) -> None:
    lines = [f"{n} {len(streets)}"] + [f"{u} {v} {w}" for u, v, w in streets]
    (SECRET / f"{name}.in").write_text("\n".join(lines) + "\n")
    (SECRET / f"{name}.ans").write_text(f"{shortest(n, streets)}\n")


def random_graph(n: int, m: int, max_weight: int) -> list[tuple[int, int, int]]:
    return [(random.randint(1, n), random.randint(1, n), random.randint(1, max_weight)) for _ in range(m)]


def main() -> None:
    random.seed(1729)
    SECRET.mkdir(parents=True, exist_ok=True)
    write("01-direct", 2, [(1, 2, 5)])
    write("02-unreachable", 4, [(1, 2, 1), (3, 4, 1)])
    write("03-no-streets", 3, [])
    # Few hops but heavy, or many hops but light: breadth-first search picks the wrong one.
    write("04-light-detour", 5, [(1, 5, 100), (1, 2, 1), (2, 3, 1), (3, 4, 1), (4, 5, 1)])
    write("05-parallel-and-loops", 3, [(1, 2, 10), (1, 2, 3), (2, 2, 1), (2, 3, 4), (3, 3, 7)])
    write("06-random-small", 50, random_graph(50, 120, 100))
    write("07-random-medium", 2000, random_graph(2000, 8000, 1000))
    chain = [(i, i + 1, random.randint(1, 10)) for i in range(1, 10_000)]
    write("08-long-chain", 10_000, chain + random_graph(10_000, 40_000, 10**6))
    write("09-random-large", 10_000, random_graph(10_000, 50_000, 10**6))


if __name__ == "__main__":
    main()
