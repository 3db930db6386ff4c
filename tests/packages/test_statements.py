"""LaTeX statements shown as Markdown: text-mode constructs converted, math kept."""

from __future__ import annotations

from judge.latex_markdown import latex_to_markdown, plain_problem_name

STATEMENT = r"""
\problemname{Sum of $x^2$}
%% plainproblemname: Sum of squares
Given $n$ numbers -- compute the \textbf{sum} of \emph{squares}~quickly. % a comment
Use \texttt{long\_long}, or \verb|int64_t|; it costs 5\% more.

\begin{Input}
The first line holds $n$ ($1 \le n \le 10^5$).
\begin{itemize}
\item the first item, with $a_i$
\item the second item
\end{itemize}
\end{Input}
\begin{Output}
Print \[ S = \sum_{i=1}^n a_i^2 \] and nothing else.
\end{Output}
\begin{verbatim}
raw $text$ -- stays
\end{verbatim}
\begin{tabular}{|c|c|}
\hline
$n$ & points \\ \hline
10 & 30 \\
\end{tabular}
\section*{Notes}
See \href{https://example.com}{the site}. ``Quoted''---and Jos\'e.
"""


def test_latex_sections_and_emphasis():
    markdown = latex_to_markdown(STATEMENT)

    assert "## Input" in markdown
    assert "## Output" in markdown
    assert "## Notes" in markdown
    assert "**sum**" in markdown
    assert "*squares*" in markdown
    assert "`long_long`" in markdown
    assert "`int64_t`" in markdown
    assert "5% more" in markdown
    assert "a comment" not in markdown
    assert "\\problemname" not in markdown


def test_latex_math_kept():
    markdown = latex_to_markdown(STATEMENT)

    assert "$1 \\le n \\le 10^5$" in markdown
    assert "$$S = \\sum_{i=1}^n a_i^2$$" in markdown
    assert "$a_i$" in markdown


def test_latex_lists_tables_verbatim():
    markdown = latex_to_markdown(STATEMENT)

    assert "- the first item, with $a_i$" in markdown
    assert "- the second item" in markdown
    assert "```\nraw $text$ -- stays\n```" in markdown
    assert "| $n$ | points |" in markdown
    assert "|---|---|" in markdown
    assert "| 10 | 30 |" in markdown


def test_latex_typography():
    markdown = latex_to_markdown(STATEMENT)

    assert "numbers – compute" in markdown
    assert "*squares* quickly" in markdown
    assert "“Quoted”—and José." in markdown
    assert "[the site](https://example.com)" in markdown


def test_latex_inline_code_kept_as_written():
    markdown = latex_to_markdown("Flush with \\texttt{std::cout << std::flush} or \\verb|a >> b -- c|, not << here.")

    assert "`std::cout << std::flush`" in markdown
    assert "`a >> b -- c`" in markdown
    assert "not « here" in markdown


def test_plain_problem_name():
    assert plain_problem_name(STATEMENT) == "Sum of squares"
    assert plain_problem_name("\\problemname{Range \\textbf{Sums}}\nText.") == "Range **Sums**"
    assert plain_problem_name("No name here.") is None


def test_latex_enumerate_and_images():
    markdown = latex_to_markdown(
        "\\begin{enumerate}\\item one\\item two\\end{enumerate}\n\\illustration{0.3}{pic.png}{A picture}\n\\includegraphics[width=3cm]{graph.png}"
    )

    assert "1. one\n2. two" in markdown
    assert "![A picture](pic.png)" in markdown
    assert "![](graph.png)" in markdown
