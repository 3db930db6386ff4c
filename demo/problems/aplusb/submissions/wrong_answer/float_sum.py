# Adds the numbers as floats: exact only while they stay below 2^53.
a, b = map(float, input().split())
print(int(a + b))
