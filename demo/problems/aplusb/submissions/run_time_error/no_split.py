# Forgets to split the line: int("1 2") raises ValueError.
print(int(input()) + 0)
