"""Decide whether a math string renders in KaTeX 0.16.21, without KaTeX or JavaScript.

Training data and model output are checked the way olmOCR checks them: a page is only good if every math
span renders in KaTeX. Running node for that is slow and awkward in a data pipeline, and general-purpose LaTeX
parsers (sympy, pylatexenc) disagree with KaTeX on a large share of real formulas. So this module
re-implements the parts of KaTeX's parser that decide *whether* a string parses: its lexer, its macro
expander (with KaTeX's own macro table), its argument rules and the checks its functions and environments
make. Rendering is not modelled; errors KaTeX only raises while building HTML are not reproduced.

Public API: :func:`is_renderable`, :func:`explain`, :func:`tokenize`, :func:`find_math`, :func:`scan_math`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from docvl._katex_commands import (
    CODE_MACROS,
    ENVIRONMENTS,
    FUNCTIONS,
    MACROS,
    MATH_SYMBOLS,
    TEXT_NON_TEXTORD,
    TEXT_SYMBOLS,
)

__all__ = ["MathScan", "explain", "find_math", "is_renderable", "scan_math", "tokenize"]

# ------------------------------------------------------------------------------------------------- lexing

# KaTeX's token regex (src/Lexer.js), translated to Python code points; the last group catches anything
# KaTeX's lexer would reject, so the public tokenizer can keep going where the checker stops.
_TOKEN_RE = re.compile(
    r"([ \r\n\t]+)"  # 1: whitespace
    r"|\\(\n|[ \r\t]+\n?)[ \r\t]*"  # 2: control space
    r"|([!-\[\]-\u2027\u202a-\ud7ff\uf900-\uffff\U00010000-\U0010ffff][\u0300-\u036f]*"  # 3: one character
    r"|\\verb\*([\s\S])[^\n\r\u2028\u2029]*?\4"  # 4: \verb*|...|
    r"|\\verb([^*a-zA-Z])[^\n\r\u2028\u2029]*?\5"  # 5: \verb|...|
    r"|(\\[a-zA-Z@]+)[ \r\n\t]*"  # 6: control word (trailing spaces eaten)
    r"|\\[^\U00010000-\U0010ffff])"  # control symbol
    r"|([\s\S])"  # 7: a character KaTeX cannot lex
)


class _ParseError(Exception):
    """A reason KaTeX would refuse the input; the message is the short one-line reason we report."""


def _lex(latex: str, strict: bool) -> list[str]:
    """Tokens in reading order; `%` comments dropped as KaTeX does. Strict mode raises on unlexable input."""
    tokens: list[str] = []
    append = tokens.append
    match = _TOKEN_RE.match
    pos, end = 0, len(latex)
    while pos < end:
        m = match(latex, pos)
        pos = m.end()
        if m.group(7) is not None:
            if strict:
                raise _ParseError(f"unexpected character {m.group(7)!r}")
            append(m.group(7))
            continue
        text = m.group(6) or m.group(3) or ("\\ " if m.group(2) is not None else " ")
        if text == "%":
            newline = latex.find("\n", pos)
            pos = end if newline < 0 else newline + 1
            continue
        append(text)
    return tokens


def tokenize(latex: str) -> list[str]:
    """Split math into KaTeX's tokens, for comparing formulas structurally.

    Stable contract: control words (``\\alpha``, spaces after them dropped), control symbols (``\\{``,
    ``\\,``, ``\\\\``), control space (``\\ ``), ``\\verb|..|`` as one token, one token per other character
    (a character keeps any combining accents that follow it), every run of whitespace collapsed to a single
    ``" "``, and ``%`` comments removed. Characters KaTeX cannot lex come back as single-character tokens
    instead of raising.
    """
    return _lex(latex, strict=False)


# ------------------------------------------------------------------------------------------------- tables

_EOF = "EOF"
_END_OF_EXPRESSION = frozenset({"}", "\\endgroup", "\\end", "\\right", "&"})
_IMPLICIT = frozenset({"^", "_", "\\limits", "\\nolimits"})
_DELIMITERS = frozenset(
    "( \\lparen ) \\rparen [ \\lbrack ] \\rbrack \\{ \\lbrace \\} \\rbrace \\lfloor \\rfloor \u230a \u230b "
    "\\lceil \\rceil \u2308 \u2309 < > \\langle \u27e8 \\rangle \u27e9 \\lt \\gt \\lvert \\rvert "
    "\\lVert \\rVert \\lgroup \\rgroup \u27ee \u27ef \\lmoustache \\rmoustache \u23b0 \u23b1 / "
    "\\backslash | \\vert \\| \\Vert \\uparrow \\Uparrow \\downarrow \\Downarrow \\updownarrow \\Updownarrow "
    ".".split()
)
_UNITS = frozenset("pt mm cm in bp pc dd cc nd nc sp px ex em mu".split())
_SIZE_RE = re.compile(r"([-+]?) *(\d+(?:\.\d*)?|\.\d+) *([a-z]{2})")
_SIZE_PREFIX_RE = re.compile(r"[-+]? *(?:(?:\d+|\d+\.\d*|\.\d*) *[a-z]{0,2} *)?")
_COLOR_RE = re.compile(r"#[a-f0-9]{3}|#?[a-f0-9]{6}|[a-z]+", re.IGNORECASE)
_KNOWN_ACCENTS = frozenset("\u0301\u0300\u0308\u0303\u0304\u0306\u030c\u0302\u0307\u030a\u030b\u0327")
_UNICODE_SUB = frozenset("₊₋₌₍₎₀₁₂₃₄₅₆₇₈₉ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓᵦᵧᵨᵩᵪ")
_UNICODE_SUP = frozenset("⁺⁻⁼⁽⁾⁰¹²³⁴⁵⁶⁷⁸⁹ᴬᴮᴰᴱᴳᴴᴵᴶᴷᴸᴹᴺᴼᴾᴿᵀᵁⱽᵂᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻᵝᵞᵟᵠᵡ")
_GLOBAL_MAP = {
    "\\global": "\\global",
    "\\long": "\\\\globallong",
    "\\\\globallong": "\\\\globallong",
    "\\def": "\\gdef",
    "\\gdef": "\\gdef",
    "\\edef": "\\xdef",
    "\\xdef": "\\xdef",
    "\\let": "\\\\globallet",
    "\\futurelet": "\\\\globalfuture",
}
_NOT_A_NAME = frozenset({"\\", "{", "}", "$", "&", "#", "^", "_", _EOF})
_VERB_RE = re.compile(r"\\verb[^a-zA-Z]")
_MAX_EXPAND = 1000  # KaTeX's default maxExpand
_MISSING = object()

# A macro expansion: tokens in stack (reverse) order, parameter count, delimiters (\def), unexpandable (\let).
_Expansion = tuple[tuple[str, ...], int, "list[list[str]] | None", bool]
# A parse node: only what later checks look at. ("sym", text, is_textord), ("ordgroup", body), (type,).
_Node = tuple


@lru_cache(maxsize=4096)
def _string_expansion(body: str) -> _Expansion:
    """KaTeX's MacroExpander._getExpansion for a replacement-text macro: count #n parameters, lex the body."""
    nargs = 0
    if "#" in body:
        stripped = body.replace("##", "")
        while f"#{nargs + 1}" in stripped:
            nargs += 1
    return tuple(reversed(_lex(body, strict=True))), nargs, None, False


def _symbol_node(text: str, mode_is_text: bool) -> _Node:
    """A symbol parse node; `is_textord` matters for environment names and {alignat}'s column count."""
    if mode_is_text:
        return ("sym", text, text not in TEXT_NON_TEXTORD)
    return ("sym", text, not (len(text) == 1 and text.isascii() and text.isalpha()))


# ------------------------------------------------------------------------------------------------- parser


class _Parser:
    """A port of KaTeX's Parser + MacroExpander that keeps only what decides success or failure."""

    def __init__(self, latex: str, display: bool):
        self.stack: list[str] = _lex(latex, strict=True)
        self.stack.reverse()
        self.display = display
        self.text_mode = False
        self.next: str | None = None
        self.lr_depth = 0
        self.expansions = 0
        self.local: dict[str, object] = {}
        self.undo: list[dict[str, object]] = []
        self.command = ""  # the command whose arguments are being read, for error messages

    # ---- macro namespace (KaTeX's Namespace) --------------------------------------------------------------

    def begin_group(self) -> None:
        self.undo.append({})

    def end_group(self) -> None:
        for name, old in self.undo.pop().items():
            if old is _MISSING:
                self.local.pop(name, None)
            else:
                self.local[name] = old

    def set_macro(self, name: str, value: object, glob: bool = False) -> None:
        if glob:
            for frame in self.undo:
                frame.pop(name, None)
            if self.undo:
                self.undo[-1][name] = _MISSING if value is None else value
        elif self.undo and name not in self.undo[-1]:
            self.undo[-1][name] = self.local.get(name, _MISSING)
        if value is None:
            self.local.pop(name, None)
        else:
            self.local[name] = value

    def get_macro(self, name: str) -> object:
        value = self.local.get(name)
        if value is None:
            value = MACROS.get(name) or _CODE_MACROS.get(name)
        return value

    def is_defined(self, name: str) -> bool:
        return (
            self.get_macro(name) is not None
            or name in FUNCTIONS
            or name in MATH_SYMBOLS
            or name in TEXT_SYMBOLS
            or name in _IMPLICIT
        )

    def is_expandable(self, name: str) -> bool:
        macro = self.get_macro(name)
        if macro is not None:
            return not (isinstance(macro, tuple) and macro[3])
        return name in FUNCTIONS and not FUNCTIONS[name][7]

    # ---- gullet (token stack, argument scanning, expansion) ----------------------------------------------

    def future(self) -> str:
        return self.stack[-1] if self.stack else _EOF

    def pop_token(self) -> str:
        return self.stack.pop() if self.stack else _EOF

    def gullet_consume_spaces(self) -> None:
        stack = self.stack
        while stack and stack[-1] == " ":
            stack.pop()

    def consume_arg(self, delims: list[str] | None = None) -> list[str]:
        """One macro argument: a token or a balanced group (braces stripped), or text up to `delims`."""
        if not delims:
            self.gullet_consume_spaces()
        tokens: list[str] = []
        start = self.future()
        depth = match = 0
        while True:
            tok = self.pop_token()
            tokens.append(tok)
            if tok == "{":
                depth += 1
            elif tok == "}":
                depth -= 1
                if depth == -1:
                    raise _ParseError("unbalanced braces")
            elif tok == _EOF:
                if depth > 0:
                    raise _ParseError("unbalanced braces")
                raise _ParseError(
                    f"unclosed [ after {self.command}" if delims else f"missing argument for {self.command}"
                )
            if delims:
                if (depth == 0 or (depth == 1 and delims[match] == "{")) and tok == delims[match]:
                    match += 1
                    if match == len(delims):
                        del tokens[-match:]
                        break
                else:
                    match = 0
            elif depth == 0:
                break
        if start == "{" and tokens and tokens[-1] == "}":
            tokens.pop()
            tokens.pop(0)
        tokens.reverse()
        return tokens

    def consume_args(self, count: int, delimiters: list[list[str]] | None = None) -> list[list[str]]:
        if delimiters:
            for want in delimiters[0]:
                if self.pop_token() != want:
                    raise _ParseError("use of a macro does not match its definition")
        return [self.consume_arg(delimiters[i + 1] if delimiters else None) for i in range(count)]

    def scan_argument(self, optional: bool) -> bool:
        """Queue one argument followed by an EOF marker; False when an optional [arg] is absent."""
        if optional:
            self.gullet_consume_spaces()
            if self.future() != "[":
                return False
            self.stack.pop()
            tokens = self.consume_arg(["]"])
        else:
            tokens = self.consume_arg()
        self.stack.append(_EOF)
        self.stack.extend(tokens)
        return True

    def expansion(self, name: str) -> _Expansion | None:
        macro = self.local.get(name)
        if macro is None:
            macro = MACROS.get(name)
            if macro is None:
                code = _CODE_MACROS.get(name)
                if code is None:
                    return None
                macro = code(self)
        if isinstance(macro, str):
            return _string_expansion(macro)
        return macro  # type: ignore[return-value]

    def apply_expansion(self, name: str, expansion: _Expansion) -> None:
        """Replace a macro by its body with arguments substituted (KaTeX's expandOnce after the lookup)."""
        self.expansions += 1
        if self.expansions > _MAX_EXPAND:
            raise _ParseError("too many macro expansions (infinite loop?)")
        body, nargs, delimiters, _ = expansion
        if not nargs and not delimiters:
            self.stack.extend(body)
            return
        self.command = name
        args = self.consume_args(nargs, delimiters)
        toks = list(body)
        i = len(toks) - 1
        while i >= 0:
            if toks[i] == "#":
                if i == 0:
                    raise _ParseError("incomplete # placeholder in macro body")
                i -= 1
                tok = toks[i]
                if tok == "#":
                    del toks[i + 1]
                elif len(tok) == 1 and "1" <= tok <= "9" and int(tok) <= len(args):
                    toks[i : i + 2] = args[int(tok) - 1]
                else:
                    raise _ParseError("invalid macro argument number")
            i -= 1
        self.stack.extend(toks)

    def expand_once(self, expandable_only: bool) -> bool:
        tok = self.pop_token()
        expansion = self.expansion(tok)
        if expansion is None or (expandable_only and expansion[3]):
            if expandable_only and expansion is None and tok[0] == "\\" and not self.is_defined(tok):
                raise _ParseError(f"undefined control sequence {tok}")
            self.stack.append(tok)
            return False
        self.apply_expansion(tok, expansion)
        return True

    def expand_next_token(self) -> str:
        stack = self.stack
        while True:
            tok = stack.pop() if stack else _EOF
            expansion = self.expansion(tok)
            if expansion is None:
                return tok
            self.apply_expansion(tok, expansion)

    def expand_tokens(self, tokens: list[str]) -> list[str]:
        """Fully expand `tokens` (stack order) as \\edef does; returns them in reading order."""
        out: list[str] = []
        base = len(self.stack)
        self.stack.extend(tokens)
        while len(self.stack) > base:
            if not self.expand_once(True):
                out.append(self.stack.pop())
        self.expansions += len(out)
        return out

    # ---- parser proper -------------------------------------------------------------------------------------

    def fetch(self) -> str:
        if self.next is None:
            self.next = self.expand_next_token()
        return self.next

    def consume(self) -> None:
        self.next = None

    def consume_spaces(self) -> None:
        while self.fetch() == " ":
            self.next = None

    def expect(self, text: str) -> None:
        got = self.fetch()
        if got != text:
            raise _ParseError(_unexpected(text, got))
        self.next = None

    def parse(self) -> None:
        self.begin_group()
        self.parse_expression(False)
        self.expect(_EOF)
        self.end_group()
        if self.get_macro("\\df@tag") is not None:
            if not self.display:
                raise _ParseError("\\tag works only in display mode")
            self.subparse(["\\df@tag"])

    def subparse(self, tokens: list[str]) -> None:
        old = self.next
        self.next = None
        self.stack.append("}")
        self.stack.extend(tokens)
        self.parse_expression(False)
        self.expect("}")
        self.next = old

    def parse_expression(self, break_on_infix: bool, break_on: str | None = None) -> list[_Node]:
        body: list[_Node] = []
        while True:
            if not self.text_mode:
                self.consume_spaces()
            lex = self.fetch()
            if lex in _END_OF_EXPRESSION or lex == break_on:
                break
            if break_on_infix:
                spec = FUNCTIONS.get(lex)
                if spec is not None and spec[0] == "infix":
                    break
            atom = self.parse_atom(break_on)
            if atom is None:
                break
            if atom[0] != "internal":
                body.append(atom)
        if sum(1 for node in body if node[0] == "infix") > 1:
            raise _ParseError("only one infix operator (\\over, \\choose, ...) per group")
        return body

    def parse_atom(self, break_on: str | None) -> _Node | None:
        base = self.parse_group("atom", break_on)
        if self.text_mode:
            return base
        has_sup = has_sub = False
        while True:
            self.consume_spaces()
            lex = self.fetch()
            if lex == "\\limits" or lex == "\\nolimits":
                if base is None or base[0] not in ("op", "operatorname"):
                    raise _ParseError(f"{lex} must follow a math operator")
                self.next = None
            elif lex == "^":
                if has_sup:
                    raise _ParseError("double superscript")
                self.handle_supsub(lex)
                has_sup = True
            elif lex == "_":
                if has_sub:
                    raise _ParseError("double subscript")
                self.handle_supsub(lex)
                has_sub = True
            elif lex == "'":
                if has_sup:
                    raise _ParseError("double superscript")
                self.next = None
                while self.fetch() == "'":
                    self.next = None
                if self.fetch() == "^":
                    self.handle_supsub("^")
                has_sup = True
            elif lex in _UNICODE_SUB or lex in _UNICODE_SUP:
                is_sub = lex in _UNICODE_SUB
                self.next = None
                while True:
                    tok = self.fetch()
                    if not ((tok in _UNICODE_SUB) if is_sub else (tok in _UNICODE_SUP)):
                        break
                    self.next = None
                has_sub, has_sup = has_sub or is_sub, has_sup or not is_sub
            else:
                break
        if not (has_sup or has_sub):
            return base
        if base is not None and base[0] == "internal":
            # e.g. "\\,^2": the spacing macro ends in \relax, and KaTeX cannot build a script on \relax
            raise _ParseError("superscript or subscript on \\relax (after a spacing or definition command)")
        return ("supsub",)

    def handle_supsub(self, symbol: str) -> None:
        self.next = None
        self.consume_spaces()
        if self.parse_group("superscript" if symbol == "^" else "subscript") is None:
            raise _ParseError(f"nothing after {symbol}")

    def parse_group(self, name: str, break_on: str | None = None) -> _Node | None:
        text = self.fetch()
        if text == "{" or text == "\\begingroup":
            self.next = None
            end = "}" if text == "{" else "\\endgroup"
            self.begin_group()
            body = self.parse_expression(False, end)
            self.expect(end)
            self.end_group()
            return ("ordgroup", body)
        result = self.parse_function(break_on, name)
        if result is None:
            result = self.parse_symbol()
            if result is None and text[0] == "\\" and text not in _IMPLICIT:
                raise _ParseError(f"undefined control sequence {text}")
        return result

    def parse_symbol(self) -> _Node | None:
        text = self.fetch()
        if _VERB_RE.match(text):
            self.next = None
            return ("verb",)
        text_mode = self.text_mode
        if text in (TEXT_SYMBOLS if text_mode else MATH_SYMBOLS):
            self.next = None
            return _symbol_node(text, text_mode)
        if text == _EOF or text[0] == "\\":
            return None
        base, marks = text[0], text[1:]
        if not marks:
            if ord(base) < 0x80:
                return None
            self.next = None
            return _symbol_node(text, text_mode)
        # a character with combining accents: KaTeX turns each into an accent command
        if not (base in (TEXT_SYMBOLS if text_mode else MATH_SYMBOLS) or ord(base) >= 0x80):
            return None
        for mark in marks:
            if mark not in _KNOWN_ACCENTS:
                raise _ParseError(f"unknown combining accent U+{ord(mark):04X}")
        self.next = None
        return ("accent",)

    def parse_function(self, break_on: str | None = None, name: str | None = None) -> _Node | None:
        func = self.fetch()
        spec = FUNCTIONS.get(func)
        if spec is None:
            return None
        self.next = None
        if name and name != "atom" and not spec[6]:
            raise _ParseError(f"{func} needs braces when used as {name}")
        if self.text_mode and not spec[4]:
            raise _ParseError(f"{func} is not allowed in text mode")
        if not self.text_mode and not spec[5]:
            raise _ParseError(f"{func} is not allowed in math mode")
        args = self.parse_arguments(func, spec[0], spec[1], spec[2], spec[3], spec[7])
        handler = _HANDLERS.get(func) or _TYPE_HANDLERS.get(spec[0])
        if handler is not None:
            return handler(self, func, args, break_on)
        return (spec[0],)

    def parse_arguments(
        self,
        func: str,
        kind: str,
        nargs: int,
        nopt: int,
        arg_types: tuple[str, ...] | None,
        primitive: bool,
    ) -> list[_Node | None]:
        args: list[_Node | None] = []
        for i in range(nargs + nopt):
            arg_type = arg_types[i] if arg_types else None
            optional = i < nopt
            if (primitive and arg_type is None) or (kind == "sqrt" and i == 1 and args[0] is None):
                arg_type = "primitive"
            self.command = func
            args.append(self.parse_group_of_type(f"argument to {func}", arg_type, optional))
        return args

    def parse_group_of_type(self, name: str, arg_type: str | None, optional: bool) -> _Node | None:
        if arg_type == "color":
            color = self.parse_string_group(optional)
            if color is None:
                return None
            if not _COLOR_RE.fullmatch(color):
                raise _ParseError(f"invalid color {color!r}")
            return ("color-token",)
        if arg_type == "size":
            return self.parse_size_group(optional)
        if arg_type == "url" or arg_type == "raw":
            return None if self.parse_string_group(optional) is None else (arg_type,)
        if arg_type == "primitive":
            group = self.parse_group(name)
            if group is None:
                raise _ParseError(f"missing argument for {self.command}")
            return group
        mode = "text" if arg_type in ("text", "hbox") else "math" if arg_type == "math" else None
        return self.parse_argument_group(optional, mode)

    def parse_string_group(self, optional: bool) -> str | None:
        if not self.scan_argument(optional):
            return None
        parts = []
        while (tok := self.fetch()) != _EOF:
            parts.append(tok)
            self.next = None
        self.next = None
        return "".join(parts)

    def parse_size_group(self, optional: bool) -> _Node | None:
        self.gullet_consume_spaces()
        if not optional and self.future() != "{":
            size = ""
            first = self.fetch()
            while (tok := self.fetch()) != _EOF and _SIZE_PREFIX_RE.fullmatch(size + tok):
                size += tok
                self.next = None
            if not size:
                raise _ParseError(f"invalid size {first!r}")
        else:
            size = self.parse_string_group(optional)
            if size is None:
                return None
        if not optional and not size:
            size = "0pt"
        m = _SIZE_RE.search(size)
        if m is None:
            raise _ParseError(f"invalid size {size!r}")
        if m.group(3) not in _UNITS:
            raise _ParseError(f"invalid unit {m.group(3)!r}")
        return ("size",)

    def parse_argument_group(self, optional: bool, mode: str | None) -> _Node | None:
        if not self.scan_argument(optional):
            return None
        outer = self.text_mode
        if mode is not None:
            self.text_mode = mode == "text"
        self.begin_group()
        body = self.parse_expression(False, _EOF)
        self.expect(_EOF)
        self.end_group()
        self.text_mode = outer
        return ("ordgroup", body)

    # ---- arrays --------------------------------------------------------------------------------------------

    def parse_array(
        self,
        env: str,
        max_cols: int = 0,
        strict_cols: bool = False,
        single_row: bool = False,
        tags: bool = False,
    ) -> list[int]:
        """Rows of an array-like environment; returns the number of cells in each row."""
        self.begin_group()
        if not single_row:
            self.set_macro("\\cr", "\\\\\\relax")
        self.begin_group()
        rows: list[int] = []
        cells = 0
        self.skip_hlines()
        while True:
            self.parse_expression(False, "\\end" if single_row else "\\\\")
            self.end_group()
            self.begin_group()
            cells += 1
            nxt = self.fetch()
            if nxt == "&":
                if strict_cols and cells == max_cols:
                    raise _ParseError(f"too many columns (&) in {{{env}}}")
                self.next = None
            elif nxt == "\\end":
                self.end_row(tags)
                rows.append(cells)
                break
            elif nxt == "\\\\":
                self.next = None
                if self.future() != " ":
                    self.parse_size_group(True)
                self.end_row(tags)
                rows.append(cells)
                cells = 0
                self.skip_hlines()
            else:
                raise _ParseError(_unexpected("\\end", nxt, env))
        self.end_group()
        self.end_group()
        return rows

    def skip_hlines(self) -> None:
        self.consume_spaces()
        if self.fetch() == "\\relax":
            self.next = None
            self.consume_spaces()
        while self.fetch() in ("\\hline", "\\hdashline"):
            self.next = None
            self.consume_spaces()

    def end_row(self, tags: bool) -> None:
        if tags and self.get_macro("\\df@tag") is not None:
            self.subparse(["\\df@tag"])
            self.set_macro("\\df@tag", None, glob=True)

    def parse_cd(self) -> None:
        """{CD}: rows separated by \\\\, arrows written @>>> @<<< @AAA @VVV @= @| @."""
        self.begin_group()
        self.set_macro("\\cr", "\\\\\\relax")
        self.begin_group()
        rows = []
        while True:
            rows.append(self.parse_expression(False, "\\\\"))
            self.end_group()
            self.begin_group()
            nxt = self.fetch()
            if nxt == "&" or nxt == "\\\\":
                self.next = None
            elif nxt == "\\end":
                break
            else:
                raise _ParseError(_unexpected("\\end", nxt, "CD"))
        for row in rows:
            j = 0
            while j < len(row):
                if row[j][:2] == ("sym", "@"):
                    j += 1
                    arrow = row[j][1] if j < len(row) and row[j][0] == "sym" else ""
                    if arrow and arrow in "<>AV":
                        for _ in range(2):
                            j += 1
                            while j < len(row) and row[j][:2] != ("sym", arrow):
                                if row[j][:2] == ("sym", "@"):
                                    raise _ParseError(f"unfinished CD arrow @{arrow}")
                                j += 1
                            if j >= len(row):
                                raise _ParseError(f"unfinished CD arrow @{arrow}")
                    elif not arrow or arrow not in "=|.":
                        raise _ParseError('expected one of "<>AV=|." after @ in {CD}')
                j += 1
        self.end_group()
        self.end_group()


def _unexpected(expected: str, got: str, env: str | None = None) -> str:
    """A short reason for finding `got` where `expected` should close the current construct."""
    if got == "&":
        return "misplaced alignment tab &"
    if got == "}" or (got == _EOF and expected == "}"):
        return "unbalanced braces"
    if got == "\\right":
        return "\\right without \\left"
    if got == "\\endgroup" or (got == _EOF and expected == "\\endgroup"):
        return "\\begingroup without \\endgroup" if got == _EOF else "\\endgroup without \\begingroup"
    if expected == "\\right":
        return "\\left without \\right"
    if got == "\\end" and expected != "\\end":
        return "\\end without \\begin"
    if got == _EOF and expected == "\\end":
        return f"\\begin{{{env}}} without \\end" if env else "\\begin without \\end"
    if got == _EOF:
        return "unexpected end of input"
    return f"unexpected {got}"


# ----------------------------------------------------------------------------------------------- handlers

_Handler = Callable[[_Parser, str, list, "str | None"], "_Node | None"]


def _check_delimiter(node: _Node | None, func: str) -> None:
    if node is None or node[0] != "sym":
        raise _ParseError(f"invalid delimiter after {func}")
    if node[1] not in _DELIMITERS:
        raise _ParseError(f"invalid delimiter {node[1]!r} after {func}")


def _h_left(p: _Parser, func: str, args: list, break_on: str | None) -> _Node:
    _check_delimiter(args[0], func)
    p.lr_depth += 1
    p.parse_expression(False)
    p.lr_depth -= 1
    if p.fetch() != "\\right":
        raise _ParseError(_unexpected("\\right", p.fetch()))
    p.parse_function()
    return ("leftright",)


def _h_middle(p: _Parser, func: str, args: list, break_on: str | None) -> _Node:
    _check_delimiter(args[0], func)
    if not p.lr_depth:
        raise _ParseError("\\middle without \\left")
    return ("middle",)


def _h_delimiter(p: _Parser, func: str, args: list, break_on: str | None) -> _Node:
    _check_delimiter(args[0], func)
    return ("delim",)


def _h_rest_of_group(break_on_infix: bool) -> _Handler:
    """Declarations such as \\displaystyle, \\color{red}, \\bf, \\large apply to the rest of the group."""

    def handler(p: _Parser, func: str, args: list, break_on: str | None) -> _Node:
        if FUNCTIONS[func][1] == 0 or func == "\\color":
            p.parse_expression(break_on_infix, break_on)
        return ("styling",)

    return handler


def _h_inline_math(p: _Parser, func: str, args: list, break_on: str | None) -> _Node:
    outer = p.text_mode
    p.text_mode = False
    close = "\\)" if func == "\\(" else "$"
    p.parse_expression(False, close)
    if p.fetch() != close:
        raise _ParseError(f"{func} in text without closing {close}")
    p.next = None
    p.text_mode = outer
    return ("styling",)


def _h_error(message: str) -> _Handler:
    def handler(p: _Parser, func: str, args: list, break_on: str | None) -> _Node:
        raise _ParseError(message.format(func=func))

    return handler


def _h_cr(p: _Parser, func: str, args: list, break_on: str | None) -> _Node:
    if p.future() == "[":
        p.parse_size_group(True)
    return ("cr",)


def _h_char(p: _Parser, func: str, args: list, break_on: str | None) -> _Node:
    digits = "".join(node[1] for node in args[0][1] if node[0] == "sym")
    m = re.match(r"\s*([-+]?\d+)", digits)
    if m is None or not 0 <= int(m[1]) < 0x10FFFF:
        raise _ParseError(f"invalid character code {digits!r}")
    return ("textord",)


def _env_name(node: _Node) -> str:
    if any(child[0] != "sym" or not child[2] for child in node[1]):
        raise _ParseError("invalid environment name")
    return "".join(child[1] for child in node[1])


def _h_environment(p: _Parser, func: str, args: list, break_on: str | None) -> _Node:
    name = _env_name(args[0])
    if func == "\\end":
        return ("environment", name)
    if name not in ENVIRONMENTS:
        raise _ParseError(f"unknown environment {{{name}}}")
    env_args = p.parse_arguments(f"\\begin{{{name}}}", "environment", ENVIRONMENTS[name], 0, None, False)
    _environment_body(p, name, env_args)
    if p.fetch() != "\\end":
        raise _ParseError(_unexpected("\\end", p.fetch(), name))
    end = p.parse_function()
    if end is None or end[1] != name:
        closer = end[1] if end else ""
        raise _ParseError(f"mismatched environment: \\begin{{{name}}} closed by \\end{{{closer}}}")
    return ("array",)


def _column_spec(node: _Node, allowed: str, env: str) -> int:
    cols = [node] if node[0] == "sym" else node[1] if node[0] == "ordgroup" else [node]
    for col in cols:
        if col[0] != "sym":
            raise _ParseError(f"invalid column specification in {{{env}}}")
        if col[1] not in allowed or len(col[1]) != 1:
            raise _ParseError(f"unknown column alignment {col[1]!r} in {{{env}}}")
    return len(cols)


def _environment_body(p: _Parser, name: str, args: list) -> None:
    """The checks each KaTeX environment makes on its arguments and rows (src/environments/*.js)."""
    base = name.rstrip("*")
    display_only = base in ("align", "alignat", "split", "gather", "equation", "CD")
    if display_only and not p.display:
        raise _ParseError(f"{{{name}}} can be used only in display mode")
    if base in ("array", "darray"):
        cols = _column_spec(args[0], "lcr|:", name)
        p.parse_array(name, max_cols=cols)
    elif name == "subarray":
        if _column_spec(args[0], "lc", name) > 1:
            raise _ParseError("{subarray} can contain only one column")
        rows = p.parse_array(name)
        if rows and rows[0] > 1:
            raise _ParseError("{subarray} can contain only one column")
    elif base.endswith("matrix"):
        if name.endswith("*"):
            p.consume_spaces()
            if p.fetch() == "[":
                p.next = None
                p.consume_spaces()
                if p.fetch() not in "lcr":
                    raise _ParseError(f"expected l, c or r in {{{name}}}[..]")
                p.next = None
                p.consume_spaces()
                p.expect("]")
        p.parse_array(name)
    elif base in ("cases", "dcases", "rcases", "drcases"):
        p.parse_array(name)
    elif base in ("align", "aligned", "split", "alignat", "alignedat"):
        split = name == "split"
        rows = p.parse_array(name, max_cols=2 if split else 0, strict_cols=split, tags="ed" not in name and not split)
        if "at" in name:
            group = args[0]
            if any(node[0] != "sym" or not node[2] for node in group[1]):
                raise _ParseError(f"invalid column count for {{{name}}}")
            count = "".join(node[1] for node in group[1])
            maths = float(count) if re.fullmatch(r"\s*\d+(\.\d*)?\s*", count) else None
            if maths and any(maths < cells / 2 for cells in rows):
                raise _ParseError(f"too many columns (&) in {{{name}}}")
    elif base in ("gathered", "gather"):
        p.parse_array(name, tags=name != "gathered")
    elif base == "equation":
        p.parse_array(name, max_cols=1, strict_cols=True, single_row=True, tags=True)
    elif name == "CD":
        p.parse_cd()
    else:  # pragma: no cover - the environment table and this dispatch are kept in step by a test
        raise AssertionError(name)


def _h_prefix(p: _Parser, func: str, args: list, break_on: str | None) -> _Node:
    """\\global / \\long before a definition."""
    p.consume_spaces()
    token = p.fetch()
    if token not in _GLOBAL_MAP:
        raise _ParseError(f"invalid token after {func}")
    if func in ("\\global", "\\\\globallong"):
        p.next = _GLOBAL_MAP[token]
    node = p.parse_function()
    if node is None or node[0] != "internal":
        raise _ParseError(f"invalid token after {func}")
    return node


def _control_sequence(token: str) -> str:
    if token in _NOT_A_NAME:
        raise _ParseError("expected a control sequence to define")
    return token


def _h_def(p: _Parser, func: str, args: list, break_on: str | None) -> _Node:
    """\\def\\name#1#2{body} (also \\gdef, \\edef, \\xdef), with TeX-style delimited parameters."""
    name = _control_sequence(p.pop_token())
    nargs = 0
    insert = None
    delimiters: list[list[str]] = [[]]
    while p.future() != "{":
        tok = p.pop_token()
        if tok == "#":
            if p.future() == "{":
                insert = "{"
                delimiters[nargs].append("{")
                break
            tok = p.pop_token()
            if not (len(tok) == 1 and "1" <= tok <= "9") or int(tok) != nargs + 1:
                raise _ParseError(f"invalid parameter #{tok} in {func}")
            nargs += 1
            delimiters.append([])
        elif tok == _EOF:
            raise _ParseError(f"{func} without a definition")
        else:
            delimiters[nargs].append(tok)
    p.command = func
    tokens = p.consume_arg()
    if insert:
        tokens.insert(0, insert)
    if func in ("\\edef", "\\xdef"):
        tokens = p.expand_tokens(tokens)
        tokens.reverse()
    p.set_macro(name, (tuple(tokens), nargs, delimiters, False), glob=func == _GLOBAL_MAP[func])
    return ("internal",)


def _let(p: _Parser, name: str, tok: str, glob: bool) -> None:
    macro = p.get_macro(tok)
    if macro is None:
        macro = ((tok,), 0, None, not p.is_expandable(tok))
    p.set_macro(name, macro, glob)


def _h_let(p: _Parser, func: str, args: list, break_on: str | None) -> _Node:
    name = _control_sequence(p.pop_token())
    p.gullet_consume_spaces()
    tok = p.pop_token()
    if tok == "=":
        tok = p.pop_token()
        if tok == " ":
            tok = p.pop_token()
    _let(p, name, tok, func == "\\\\globallet")
    return ("internal",)


def _h_futurelet(p: _Parser, func: str, args: list, break_on: str | None) -> _Node:
    name = _control_sequence(p.pop_token())
    middle = p.pop_token()
    tok = p.pop_token()
    _let(p, name, tok, func == "\\\\globalfuture")
    p.stack.append(tok)
    p.stack.append(middle)
    return ("internal",)


_TYPE_HANDLERS: dict[str, _Handler] = {
    "leftright": _h_left,
    "middle": _h_middle,
    "delimsizing": _h_delimiter,
    "leftright-right": _h_delimiter,
    "environment": _h_environment,
    "cr": _h_cr,
    "styling": _h_rest_of_group(True),
    "font": _h_rest_of_group(True),
    "color": _h_rest_of_group(True),
    "sizing": _h_rest_of_group(False),
    "textord": _h_char,
}
_HANDLERS: dict[str, _Handler] = {
    "$": _h_inline_math,
    "\\(": _h_inline_math,
    "\\)": _h_error("mismatched {func}"),
    "\\]": _h_error("mismatched {func}"),
    "\\hline": _h_error("{func} outside an array environment"),
    "\\hdashline": _h_error("{func} outside an array environment"),
    "\\verb": _h_error("\\verb without a matching delimiter"),
    "\\global": _h_prefix,
    "\\long": _h_prefix,
    "\\\\globallong": _h_prefix,
    "\\def": _h_def,
    "\\gdef": _h_def,
    "\\edef": _h_def,
    "\\xdef": _h_def,
    "\\let": _h_let,
    "\\\\globallet": _h_let,
    "\\futurelet": _h_futurelet,
    "\\\\globalfuture": _h_futurelet,
}

# -------------------------------------------------------------------------------------------- code macros
# KaTeX defines these macros as JavaScript functions (src/macros.js); each returns replacement text or an
# expansion tuple.


def _m_noexpand(p: _Parser) -> _Expansion:
    tok = p.pop_token()
    return (("\\relax" if p.is_expandable(tok) else tok,), 0, None, False)


def _m_expandafter(p: _Parser) -> _Expansion:
    tok = p.pop_token()
    p.expand_once(True)
    return ((tok,), 0, None, False)


def _m_pick(index: int) -> Callable[[_Parser], _Expansion]:
    def macro(p: _Parser) -> _Expansion:
        return (tuple(p.consume_args(2)[index]), 0, None, False)

    return macro


def _m_ifnextchar(p: _Parser) -> _Expansion:
    args = p.consume_args(3)
    p.gullet_consume_spaces()
    hit = len(args[0]) == 1 and args[0][0] == p.future()
    return (tuple(args[1] if hit else args[2]), 0, None, False)


def _m_text_or_math(p: _Parser) -> _Expansion:
    args = p.consume_args(2)
    return (tuple(args[0] if p.text_mode else args[1]), 0, None, False)


_DIGITS = {c: int(c, 16) for c in "0123456789abcdefABCDEF"}


def _m_char(p: _Parser) -> str:
    tok = p.pop_token()
    base = 10
    if tok in ("'", '"'):
        base = 8 if tok == "'" else 16
        tok = p.pop_token()
    elif tok == "`":
        tok = p.pop_token()
        if tok == _EOF:
            raise _ParseError("\\char` without a character")
        code = ord(tok[1] if tok[0] == "\\" else tok[0])
        return "\\@char{" + str(code) + "}"
    number = _DIGITS.get(tok)
    if number is None or number >= base:
        raise _ParseError(f"invalid base-{base} digit {tok!r} after \\char")
    while (digit := _DIGITS.get(p.future())) is not None and digit < base:
        number = number * base + digit
        p.pop_token()
    return f"\\@char{{{number}}}"


def _m_newcommand(exists_ok: bool, nonexists_ok: bool, skip_if_exists: bool) -> Callable[[_Parser], str]:
    def macro(p: _Parser) -> str:
        p.command = "\\newcommand"
        arg = p.consume_arg()
        if len(arg) != 1:
            raise _ParseError("\\newcommand's first argument must be a macro name")
        name = arg[0]
        exists = p.is_defined(name)
        if exists and not exists_ok:
            raise _ParseError(f"\\newcommand{{{name}}} redefines an existing command")
        if not exists and not nonexists_ok:
            raise _ParseError(f"\\renewcommand{{{name}}} of an undefined command")
        nargs = 0
        arg = p.consume_arg()
        if arg == ["["]:
            text = ""
            tok = p.expand_next_token()
            while tok not in ("]", _EOF):
                text += tok
                tok = p.expand_next_token()
            if not re.fullmatch(r"\s*[0-9]+\s*", text):
                raise _ParseError(f"invalid number of arguments {text!r}")
            nargs = int(text)
            arg = p.consume_arg()
        if not (exists and skip_if_exists):
            p.set_macro(name, (tuple(arg), nargs, None, False))
        return ""

    return macro


def _m_gobble_arg(p: _Parser) -> str:
    p.consume_args(1)
    return ""


def _m_show(p: _Parser) -> str:
    p.pop_token()
    return ""


def _m_dots(name: str) -> Callable[[_Parser], str]:
    """\\dots & co. only choose spacing from the next token; for parsing they are \\ldots or \\@cdots."""

    def macro(p: _Parser) -> str:
        if name == "\\dots":
            p.expand_once(False)
        return "\\@cdots" if name == "\\cdots" else "\\ldots"

    return macro


def _m_tag_literal(p: _Parser) -> str:
    if p.get_macro("\\df@tag") is not None:
        raise _ParseError("multiple \\tag")
    return "\\gdef\\df@tag{\\text{#1}}"


def _m_bra_ket(p: _Parser) -> _Expansion:
    """\\Braket / \\Set: four delimiter arguments, then the content (| inside becomes \\middle|)."""
    left, _middle, _double, right = (p.consume_arg() for _ in range(4))
    content = p.consume_arg()
    return (tuple(right + content + left), 0, None, False)


_CODE_MACROS: dict[str, Callable[[_Parser], object]] = {
    "\\noexpand": _m_noexpand,
    "\\expandafter": _m_expandafter,
    "\\@firstoftwo": _m_pick(0),
    "\\@secondoftwo": _m_pick(1),
    "\\@ifnextchar": _m_ifnextchar,
    "\\TextOrMath": _m_text_or_math,
    "\\char": _m_char,
    "\\newcommand": _m_newcommand(False, True, False),
    "\\renewcommand": _m_newcommand(True, False, False),
    "\\providecommand": _m_newcommand(True, True, True),
    "\\message": _m_gobble_arg,
    "\\errmessage": _m_gobble_arg,
    "\\show": _m_show,
    "\\dots": _m_dots("\\dots"),
    "\\dotso": _m_dots("\\dotso"),
    "\\dotsc": _m_dots("\\dotsc"),
    "\\cdots": _m_dots("\\cdots"),
    "\\tag@literal": _m_tag_literal,
    "\\bra@ket": _m_bra_ket,
    "\\bra@set": _m_bra_ket,
}
assert _CODE_MACROS.keys() == CODE_MACROS, "every KaTeX code macro needs a Python counterpart"

# --------------------------------------------------------------------------------------------- public API


def explain(latex: str, display: bool = False) -> str | None:
    """None if KaTeX 0.16.21 would render `latex`, else a short one-line reason.

    `latex` is the inside of ``\\( \\)`` (display=False) or ``\\[ \\]`` (display=True); reasons read like
    ``"unbalanced braces"`` or ``"undefined control sequence \\foo"``, so data filters can count them.
    """
    try:
        _Parser(latex, display).parse()
    except _ParseError as exc:
        return str(exc)
    except RecursionError:
        return "nesting too deep"
    return None


def is_renderable(latex: str, display: bool = False) -> bool:
    """True if KaTeX 0.16.21 would render this math (same rules as :func:`explain`)."""
    return explain(latex, display) is None


_MATH_OPEN = {"(": ("\\)", False), "[": ("\\]", True)}


@dataclass(frozen=True)
class MathScan:
    """The math of a Markdown page: spans as (start, end, inner latex, display), `start`/`end` the offsets of
    the delimiters' outer edges; `unclosed` the offset of a delimiter never closed; `stray` the offset of a
    closing delimiter with no opening one (None when there is none)."""

    spans: list[tuple[int, int, str, bool]]
    unclosed: int | None = None
    stray: int | None = None


def scan_math(markdown: str) -> MathScan:
    """Find ``\\( .. \\)`` (display False) and ``\\[ .. \\]`` (display True) spans, with their offsets.

    A backslash always pairs with the character after it, so ``\\\\[2pt]`` inside a matrix or an escaped
    ``\\\\(`` in prose never opens or closes a span.
    """
    spans: list[tuple[int, int, str, bool]] = []
    stray = None
    i, n = 0, len(markdown)
    while True:
        i = markdown.find("\\", i)
        if i < 0 or i + 1 >= n:
            return MathScan(spans, None, stray)
        opener = _MATH_OPEN.get(markdown[i + 1])
        if opener is None:
            if stray is None and markdown[i + 1] in ")]":
                stray = i
            i += 2
            continue
        close, display = opener
        j = i + 2
        while True:
            j = markdown.find("\\", j)
            if j < 0 or j + 1 >= n:
                return MathScan(spans, i, stray)
            if markdown.startswith(close, j):
                spans.append((i, j + 2, markdown[i + 2 : j], display))
                i = j + 2
                break
            j += 2


def find_math(markdown: str) -> list[tuple[str, bool]]:
    """The math spans of a Markdown page in order, as (inner latex, display); see `scan_math`.
    A delimiter that is never closed yields no span."""
    return [(inner, display) for _start, _end, inner, display in scan_math(markdown).spans]
