# Mixes up "lower" and "higher", so the search runs away from the number.
import sys

n = int(sys.stdin.readline())
low, high = 1, n
while low <= high:
    guess = (low + high) // 2
    print(guess, flush=True)
    reply = sys.stdin.readline().strip()
    if reply == "correct" or not reply:
        break
    if reply == "higher":
        high = guess - 1
    else:
        low = guess + 1
