"""Readable Markdown from a LaTeX problem statement.

Covers the constructs problem statements use: sections and the Input/Output
environments, lists, emphasis, verbatim blocks, simple tables, links,
pictures, quotes, dashes and accents of text mode. Math stays as `$...$` and
`$$...$$` for the browser's math renderer. Unknown commands keep their last
argument's text, so nothing the author wrote is silently dropped.
"""

from __future__ import annotations

import re

_SECTION_ENVIRONMENTS = {"Input": "Input", "Output": "Output", "Interaction": "Interaction", "Sample": "Sample"}
_DISPLAY_MATH_ENVIRONMENTS = ("equation", "equation*", "align", "align*", "eqnarray", "eqnarray*", "gather", "gather*", "displaymath", "multline", "multline*")
_VERBATIM_ENVIRONMENTS = ("verbatim", "lstlisting", "Verbatim", "minted")
_DROPPED_COMMANDS = {
    "noindent", "newline", "medskip", "bigskip", "smallskip", "centering", "raggedright", "clearpage", "newpage",
    "tiny", "scriptsize", "footnotesize", "small", "normalsize", "large", "Large", "LARGE", "huge", "Huge",
    "bf", "it", "tt", "rm", "sf", "sc", "em", "hline", "remainingsamples", "nextsample", "maketitle", "hfill", "vfill",
}
_SYMBOLS = {
    "ldots": "…", "dots": "…", "textellipsis": "…", "textbackslash": "\\", "textasciitilde": "~", "textasciicircum": "^",
    "textless": "<", "textgreater": ">", "textbar": "|", "S": "§", "copyright": "©", "LaTeX": "LaTeX", "TeX": "TeX",
    "par": "\n\n", "textendash": "–", "textemdash": "—", "quad": " ", "qquad": "  ", "enspace": " ", "thinspace": " ",
}
_ESCAPES = {"&": "&", "%": "%", "$": "\\$", "#": "#", "_": "\\_", "{": "{", "}": "}", " ": " ", ",": " ", "\\": "\n"}
_ACCENTS = {
    "'": {"a": "á", "e": "é", "i": "í", "o": "ó", "u": "ú", "y": "ý", "A": "Á", "E": "É", "I": "Í", "O": "Ó", "U": "Ú"},
    "`": {"a": "à", "e": "è", "i": "ì", "o": "ò", "u": "ù", "A": "À", "E": "È"},
    '"': {"a": "ä", "e": "ë", "i": "ï", "o": "ö", "u": "ü", "A": "Ä", "O": "Ö", "U": "Ü"},
    "^": {"a": "â", "e": "ê", "i": "î", "o": "ô", "u": "û"},
    "~": {"a": "ã", "n": "ñ", "o": "õ", "N": "Ñ"},
    "c": {"c": "ç", "C": "Ç"},
}
_PLAIN_NAME = re.compile(r"^%+\s*plainproblemname:\s*(.+?)\s*$", re.MULTILINE)


def plain_problem_name(latex: str) -> str | None:
    """Return the name given by `%% plainproblemname:` or a plain `\\problemname{...}`."""
    match = _PLAIN_NAME.search(latex)
    if match:
        return match.group(1)
    index = latex.find("\\problemname")
    if index < 0:
        return None
    argument, _ = _read_group(latex, index + len("\\problemname"))
    if argument is None:
        return None
    text = latex_to_markdown(argument).strip()
    return text or None


def _strip_comments(text: str) -> str:
    lines = []
    for line in text.split("\n"):
        index = 0
        while True:
            index = line.find("%", index)
            if index < 0:
                break
            backslashes = len(line[:index]) - len(line[:index].rstrip("\\"))
            if backslashes % 2 == 0:
                line = line[:index]
                break
            index += 1
        lines.append(line)
    return "\n".join(lines)


def _read_group(text: str, index: int, opening: str = "{", closing: str = "}") -> tuple[str | None, int]:
    """Read one `{...}` argument starting at `index` (spaces allowed before it); return it and the index after it."""
    start = index
    while start < len(text) and text[start] in " \t\n":
        start += 1
    if start >= len(text) or text[start] != opening:
        return None, index
    depth = 0
    position = start
    while position < len(text):
        char = text[position]
        if char == "\\":
            position += 2
            continue
        if char == opening:
            depth += 1
        elif char == closing:
            depth -= 1
            if depth == 0:
                return text[start + 1 : position], position + 1
        position += 1
    return text[start + 1 :], len(text)


def _protect_math(text: str) -> tuple[str, list[str]]:
    """Replace math by placeholders, so text-mode rules never touch it; return the text and the math pieces."""
    math: list[str] = []
    output: list[str] = []
    index = 0
    while index < len(text):
        if text.startswith("\\\\", index) or text.startswith("\\$", index):
            output.append(text[index : index + 2])
            index += 2
            continue
        verbatim = _verbatim_end(text, index)
        if verbatim > index:
            output.append(text[index:verbatim])
            index = verbatim
            continue
        found = None
        for opening, closing, mark in (("$$", "$$", "$$"), ("\\[", "\\]", "$$"), ("\\(", "\\)", "$"), ("$", "$", "$")):
            if text.startswith(opening, index):
                end = _find_unescaped(text, closing, index + len(opening))
                if end >= 0:
                    found = (mark + text[index + len(opening) : end].strip() + mark, end + len(closing))
                break
        if found is None and text.startswith("\\begin{", index):
            name, after = _read_group(text, index + len("\\begin"))
            if name in _DISPLAY_MATH_ENVIRONMENTS:
                end_tag = f"\\end{{{name}}}"
                end = text.find(end_tag, after)
                if end >= 0:
                    body = text[after:end].strip()
                    if name.startswith(("align", "eqnarray", "gather")):
                        body = f"\\begin{{aligned}}{body}\\end{{aligned}}"
                    found = ("\n\n$$" + body + "$$\n\n", end + len(end_tag))
        if found is not None:
            output.append(f"\x00{len(math)}\x00")
            math.append(found[0])
            index = found[1]
            continue
        output.append(text[index])
        index += 1
    return "".join(output), math


def _verbatim_end(text: str, index: int) -> int:
    """Return the end of a verbatim environment or `\\verb` starting at `index`, else `index`."""
    if text.startswith("\\begin{", index):
        name, after = _read_group(text, index + len("\\begin"))
        if name in _VERBATIM_ENVIRONMENTS:
            end = text.find(f"\\end{{{name}}}", after)
            return len(text) if end < 0 else end + len(f"\\end{{{name}}}")
    if text.startswith("\\verb", index) and index + 5 < len(text) and not text[index + 5].isalpha():
        end = text.find(text[index + 5], index + 6)
        return len(text) if end < 0 else end + 1
    return index


def _find_unescaped(text: str, needle: str, start: int) -> int:
    index = start
    while True:
        index = text.find(needle, index)
        if index < 0:
            return -1
        if index > 0 and text[index - 1] == "\\" and needle == "$":
            index += 1
            continue
        return index


def _convert_environment(name: str, body: str, options: str | None) -> str:
    if name in _SECTION_ENVIRONMENTS:
        return f"\n\n## {_SECTION_ENVIRONMENTS[name]}\n\n{_convert(body).strip()}\n\n"
    if name in ("itemize", "enumerate", "description"):
        items = re.split(r"\\item\b", body)[1:]
        lines = []
        for number, item in enumerate(items, start=1):
            label = ""
            item_text = item
            if item.lstrip().startswith("["):
                label, after = _read_group(item.lstrip(), 0, "[", "]")
                item_text = item.lstrip()[after:]
            text = " ".join(_convert(item_text).split())
            bullet = f"{number}." if name == "enumerate" else "-"
            if label:
                text = f"**{_convert(label).strip()}** {text}"
            lines.append(f"{bullet} {text}")
        return "\n\n" + "\n".join(lines) + "\n\n"
    if name in ("tabular", "array"):
        return _convert_table(body)
    if name == "quote" or name == "quotation":
        quoted = _convert(body).strip().split("\n")
        return "\n\n" + "\n".join(f"> {line}".rstrip() for line in quoted) + "\n\n"
    # center, figure, wrapfigure, minipage and unknown environments keep their content.
    return "\n\n" + _convert(body).strip() + "\n\n"


def _convert_table(body: str) -> str:
    body = re.sub(r"\\(hline|cline\{[^}]*\}|toprule|midrule|bottomrule)", "", body)
    rows = [row.strip() for row in re.split(r"\\\\", body) if row.strip()]
    if not rows:
        return ""
    cells = [[" ".join(_convert(cell).split()) for cell in re.split(r"(?<!\\)&", row)] for row in rows]
    width = max(len(row) for row in cells)
    lines = []
    for index, row in enumerate(cells):
        row = row + [""] * (width - len(row))
        lines.append("| " + " | ".join(row) + " |")
        if index == 0:
            # Typography would turn "---" into a dash; the marker becomes "---" afterwards.
            lines.append("|" + "\x01|" * width)
    return "\n\n" + "\n".join(lines) + "\n\n"


def _text_command(name: str, arguments: list[str]) -> str:
    first = arguments[0] if arguments else ""
    if name in ("textbf",):
        return f"**{_convert(first).strip()}**"
    if name in ("emph", "textit", "textsl"):
        return f"*{_convert(first).strip()}*"
    if name == "texttt":
        return _code_span(_convert(first).strip().replace("\\_", "_").replace("\\$", "$"))
    if name in ("section", "section*"):
        return f"\n\n## {_convert(first).strip()}\n\n"
    if name in ("subsection", "subsection*", "subsubsection", "subsubsection*", "paragraph"):
        return f"\n\n### {_convert(first).strip()}\n\n"
    if name == "url":
        return f"<{first.strip()}>"
    if name == "href":
        label = _convert(arguments[1]).strip() if len(arguments) > 1 else first
        return f"[{label}]({first.strip()})"
    if name == "includegraphics":
        return f"![]({first.strip()})"
    if name == "illustration":
        caption = _convert(arguments[2]).strip() if len(arguments) > 2 else ""
        image = arguments[1].strip() if len(arguments) > 1 else ""
        return f"\n\n![{caption}]({image})\n\n"
    if name in ("problemname", "label", "ref", "cite", "vspace", "hspace", "vspace*", "hspace*", "setlength", "def", "newcommand", "renewcommand"):
        return ""
    if name == "footnote":
        return f" ({_convert(first).strip()})"
    if name == "epigraph":
        author = _convert(arguments[1]).strip() if len(arguments) > 1 else ""
        return f"\n\n> {_convert(first).strip()}\n>\n> — {author}\n\n"
    if name == "constant":
        return f"{{{{{first.strip()}}}}}"
    # underline, textsc, textrm, mbox, text and unknown commands: keep the text of the last argument.
    return _convert(arguments[-1]) if arguments else ""


_ARGUMENT_COUNTS = {"href": 2, "illustration": 3, "epigraph": 2, "setlength": 2, "newcommand": 2, "renewcommand": 2}


def _convert(text: str) -> str:
    output: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char != "\\":
            output.append(char)
            index += 1
            continue

        if text.startswith("\\begin", index):
            name, after = _read_group(text, index + len("\\begin"))
            if name is None:
                index += len("\\begin")
                continue
            options = None
            if after < len(text) and text[after] == "[":
                options, after = _read_group(text, after, "[", "]")
            end_tag = f"\\end{{{name}}}"
            end = _find_matching_end(text, name, after)
            body = text[after:end]
            if name in _VERBATIM_ENVIRONMENTS:
                output.append("\n\n```\n" + body.strip("\n") + "\n```\n\n")
            else:
                if name in ("tabular", "array", "minipage", "wrapfigure"):
                    # Column spec or width and placement arguments.
                    _, skip = _read_group(body, 0)
                    body = body[skip:]
                    if name == "wrapfigure":
                        _, skip = _read_group(body, 0)
                        body = body[skip:]
                output.append(_convert_environment(name, body, options))
            index = end + len(end_tag) if end < len(text) else len(text)
            continue

        match = re.match(r"\\([A-Za-z]+\*?|.)", text[index:])
        if match is None:
            output.append("\\")
            index += 1
            continue
        name = match.group(1)
        index += len(match.group(0))

        if name in _ESCAPES:
            output.append(_ESCAPES[name])
            continue
        if name in _ACCENTS or (name == "c" and text[index : index + 1] in "{ "):
            argument, after = _read_group(text, index)
            letter = argument if argument is not None else text[index : index + 1]
            index = after if argument is not None else index + 1
            output.append(_ACCENTS.get(name, {}).get(letter.strip(), letter))
            continue
        if name in _SYMBOLS:
            output.append(_SYMBOLS[name])
            if text[index : index + 2] == "{}":
                index += 2
            continue
        if name in _DROPPED_COMMANDS:
            continue
        if name == "verb" and index < len(text):
            delimiter = text[index]
            end = text.find(delimiter, index + 1)
            if end > 0:
                output.append(_code_span(text[index + 1 : end]))
                index = end + 1
                continue

        arguments: list[str] = []
        while index < len(text) and text[index] == "[":
            _, index = _read_group(text, index, "[", "]")
        argument_count = _ARGUMENT_COUNTS.get(name, 1)
        for _ in range(argument_count):
            argument, after = _read_group(text, index)
            if argument is None:
                break
            arguments.append(argument)
            index = after
        output.append(_text_command(name, arguments))
    return "".join(output)


def _find_matching_end(text: str, name: str, start: int) -> int:
    begin_tag, end_tag = f"\\begin{{{name}}}", f"\\end{{{name}}}"
    depth = 1
    index = start
    while True:
        next_end = text.find(end_tag, index)
        if next_end < 0:
            return len(text)
        next_begin = text.find(begin_tag, index)
        if 0 <= next_begin < next_end:
            depth += 1
            index = next_begin + len(begin_tag)
            continue
        depth -= 1
        if depth == 0:
            return next_end
        index = next_end + len(end_tag)


# Inline code is marked with these until typography has run, so `<<` or `--` in code stay as written.
_CODE_START, _CODE_END = "\x02", "\x03"


def _code_span(code: str) -> str:
    return f"{_CODE_START}{code}{_CODE_END}"


def _typography(text: str) -> str:
    pieces = re.split(f"({_CODE_START}[^{_CODE_END}]*{_CODE_END})", text)
    return "".join(piece if piece.startswith(_CODE_START) else _text_typography(piece) for piece in pieces)


def _text_typography(text: str) -> str:
    text = text.replace("---", "—").replace("--", "–")
    text = text.replace("``", "“").replace("''", "”").replace("<<", "«").replace(">>", "»")
    return re.sub(r"(?<!\\)~", " ", text)


def latex_to_markdown(latex: str) -> str:
    """Convert a LaTeX statement body to Markdown; math stays in `$` delimiters."""
    text = _strip_comments(latex.replace("\r\n", "\n"))
    begin = text.find("\\begin{document}")
    if begin >= 0:
        end = text.find("\\end{document}", begin)
        text = text[begin + len("\\begin{document}") : end if end >= 0 else len(text)]

    protected, math = _protect_math(text)
    # Verbatim blocks must survive typography, so convert first and then skip the fences.
    converted = _convert(protected)
    parts = re.split(r"(\n```\n.*?\n```\n)", converted, flags=re.DOTALL)
    markdown = "".join(part if part.startswith("\n```") else re.sub(r"\n[ \t]+", "\n", _typography(part)) for part in parts)
    markdown = markdown.replace("\x01", "---")
    markdown = markdown.replace(_CODE_START, "`").replace(_CODE_END, "`")
    markdown = re.sub("\x00(\\d+)\x00", lambda match: math[int(match.group(1))], markdown)

    markdown = re.sub(r"[ \t]+\n", "\n", markdown)
    markdown = re.sub(r"\n{3,}", "\n\n", markdown)
    return markdown.strip() + "\n"
