import sys

n = int(sys.stdin.readline())
low, high = 1, n
while True:
    guess = (low + high) // 2
    print(guess, flush=True)
    reply = sys.stdin.readline().strip()
    if reply == "correct":
        break
    if reply == "lower":
        high = guess - 1
    else:
        low = guess + 1
