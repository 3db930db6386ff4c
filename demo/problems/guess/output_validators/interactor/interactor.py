"""Interactor of Guess the Number, run as: interactor.py input answer feedback_dir < team_output > team_input.

Exits 42 when the submission found the number within the allowed guesses, 43
otherwise, and writes the reason to judgemessage.txt in the feedback folder.
"""

import sys
from pathlib import Path

ACCEPT, REJECT = 42, 43


def finish(code: int, message: str) -> None:
    (Path(sys.argv[3]) / "judgemessage.txt").write_text(message + "\n")
    sys.exit(code)


def send(line: str) -> None:
    try:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        finish(REJECT, "the submission stopped reading before the game was over")


def main() -> None:
    n, secret = map(int, Path(sys.argv[1]).read_text().split())
    allowed = n.bit_length()
    send(str(n))
    for guess_number in range(1, allowed + 1):
        line = sys.stdin.readline()
        if not line:
            finish(REJECT, f"the submission ended after {guess_number - 1} guesses without finding the number")
        try:
            guess = int(line.strip())
        except ValueError:
            finish(REJECT, f"guess {guess_number} is not an integer: {line.strip()[:40]!r}")
        if not 1 <= guess <= n:
            finish(REJECT, f"guess {guess_number} is {guess}, outside 1..{n}")
        if guess == secret:
            send("correct")
            extra = sys.stdin.read().strip()
            if extra:
                finish(REJECT, f"output after the correct guess: {extra[:40]!r}")
            finish(ACCEPT, f"found {secret} in {guess_number} guesses")
        send("lower" if secret < guess else "higher")
    finish(REJECT, f"the number was not found within {allowed} guesses")


if __name__ == "__main__":
    main()
