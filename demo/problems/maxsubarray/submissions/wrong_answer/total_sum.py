# Takes the whole trail: right only when no height change is negative (group 2).
input()
print(sum(map(int, input().split())))
