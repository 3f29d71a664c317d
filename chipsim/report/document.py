"""One page, two renderings: a report is built once as a list of blocks, then written as HTML and
as Markdown.

Think of a recipe card printed in two languages from the same draft: headings, paragraphs,
tables and figures are put in once, so the browser page and the Markdown page show the same
numbers in the same order. Figures are PNG files next to the pages (referenced by relative
path), which keeps both pages self-contained: copy the folder and everything comes along.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Table:
    """Rows of already formatted cells; `marked` cells (row, column) are highlighted as best."""

    header: list[str]
    rows: list[list[str]]
    marked: set[tuple[int, int]] = field(default_factory=set)
    caption: str = ""


@dataclass
class Figure:
    """A PNG next to the page, with a caption that says what it shows."""

    path: str
    caption: str


@dataclass
class Document:
    """A report page: a title, then headings, paragraphs, tables and figures in order."""

    title: str
    blocks: list[tuple[str, object]] = field(default_factory=list)

    def heading(self, text: str) -> None:
        self.blocks.append(("heading", text))

    def paragraph(self, text: str) -> None:
        self.blocks.append(("paragraph", text))

    def bullets(self, items: list[str]) -> None:
        self.blocks.append(("bullets", list(items)))

    def table(self, table: Table) -> None:
        self.blocks.append(("table", table))

    def figure(self, path: str, caption: str) -> None:
        self.blocks.append(("figure", Figure(path, caption)))

    def images(self) -> list[str]:
        """Relative paths of every figure on the page."""
        return [block.path for kind, block in self.blocks if kind == "figure"]  # type: ignore[union-attr]

    def to_markdown(self) -> str:
        out = [f"# {self.title}", ""]
        for kind, block in self.blocks:
            if kind == "heading":
                out += [f"## {block}", ""]
            elif kind == "paragraph":
                out += [str(block), ""]
            elif kind == "bullets":
                out += [f"- {item}" for item in block] + [""]  # type: ignore[union-attr]
            elif kind == "table":
                out += _markdown_table(block) + [""]  # type: ignore[arg-type]
            elif kind == "figure":
                out += [f"![{block.caption}]({block.path})", "", f"*{block.caption}*", ""]  # type: ignore[union-attr]
        return "\n".join(out)

    def to_html(self) -> str:
        body = []
        for kind, block in self.blocks:
            if kind == "heading":
                body.append(f"<h2>{html.escape(str(block))}</h2>")
            elif kind == "paragraph":
                body.append(f"<p>{_inline(str(block))}</p>")
            elif kind == "bullets":
                items = "".join(f"<li>{_inline(i)}</li>" for i in block)  # type: ignore[union-attr]
                body.append(f"<ul>{items}</ul>")
            elif kind == "table":
                body.append(_html_table(block))  # type: ignore[arg-type]
            elif kind == "figure":
                src, cap = html.escape(block.path), html.escape(block.caption)  # type: ignore[union-attr]
                body.append(f'<figure><img src="{src}" alt="{cap}"><figcaption>{cap}</figcaption></figure>')
        return (
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(self.title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
            f"<h1>{html.escape(self.title)}</h1>\n" + "\n".join(body) + "\n</body>\n</html>\n"
        )

    def write(self, folder: str | Path) -> list[Path]:
        """index.html and README.md in `folder`; returns their paths."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "index.html").write_text(self.to_html(), encoding="utf-8")
        (folder / "README.md").write_text(self.to_markdown(), encoding="utf-8")
        return [folder / "index.html", folder / "README.md"]


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;"
    "color:#222}table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #bbb;"
    "padding:.25rem .6rem}td.num{text-align:right;font-variant-numeric:tabular-nums}"
    "td.best{font-weight:bold;background:#e8f1fa}caption{caption-side:bottom;text-align:left;"
    "font-size:.9em;color:#555;padding-top:.3rem}figure{margin:1.5rem 0}img{max-width:100%}"
    "figcaption{font-size:.9em;color:#555}code{background:#f3f3f3;padding:0 .2rem}"
)


def _inline(text: str) -> str:
    """Escape, then turn `code` spans into <code> (the only inline markup the pages use)."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if k % 2 else p for k, p in enumerate(parts))


def _is_number(cell: str) -> bool:
    try:
        float(cell.replace(",", ""))
    except ValueError:
        return False
    return True


def _markdown_table(table: Table) -> list[str]:
    def cell(r: int, c: int, text: str) -> str:
        text = text.replace("|", "\\|")
        return f"**{text}**" if (r, c) in table.marked else text

    lines = ["| " + " | ".join(table.header) + " |",
             "| " + " | ".join("---:" if _numeric_column(table, c) else "---"
                               for c in range(len(table.header))) + " |"]
    for r, row in enumerate(table.rows):
        lines.append("| " + " | ".join(cell(r, c, t) for c, t in enumerate(row)) + " |")
    if table.caption:
        lines += ["", f"*{table.caption}*"]
    return lines


def _numeric_column(table: Table, column: int) -> bool:
    cells = [row[column] for row in table.rows if row[column] not in ("", "n/a")]
    return bool(cells) and all(_is_number(c) for c in cells)


def _html_table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.header)
    rows = []
    for r, row in enumerate(table.rows):
        cells = []
        for c, text in enumerate(row):
            classes = (["num"] if _is_number(text) else []) + (["best"] if (r, c) in table.marked else [])
            attr = f' class="{" ".join(classes)}"' if classes else ""
            cells.append(f"<td{attr}>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    caption = f"<caption>{html.escape(table.caption)}</caption>" if table.caption else ""
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
