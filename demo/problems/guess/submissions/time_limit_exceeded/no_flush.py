# Never flushes: the guess stays in the output buffer, so both sides wait forever.
import sys

n = int(sys.stdin.readline())
low, high = 1, n
while True:
    guess = (low + high) // 2
    sys.stdout.write(f"{guess}\n")
    reply = sys.stdin.readline().strip()
    if reply == "correct":
        break
    if reply == "lower":
        high = guess - 1
    else:
        low = guess + 1
