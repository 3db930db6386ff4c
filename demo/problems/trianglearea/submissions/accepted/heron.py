import math
import sys

data = sys.stdin.read().split()
count = int(data[0])
output = []
for index in range(count):
    a, b, c = sorted(map(float, data[1 + 3 * index : 4 + 3 * index]), reverse=True)
    output.append(f"{0.25 * math.sqrt((a + (b + c)) * (c - (a - b)) * (c + (a - b)) * (a + (b - c))):.10f}")
print("\n".join(output))
