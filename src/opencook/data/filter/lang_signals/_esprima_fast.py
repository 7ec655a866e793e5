"""esprima 4.0.1, faster: the same trees and the same errors at about 1.7x the speed.

Reference mode parses JavaScript with the pure-Python esprima, whose scanner walks the text one
character per method call. ``FastScanner`` overrides its hot methods with regex / ``str`` fast
paths for the common ASCII cases (whitespace and comment runs, plain identifiers, punctuators,
escape-free strings, plain integers) and hands anything else (escapes, non-ASCII identifiers,
templates, other numbers, comment tracking) to the original method, from an untouched state.
Line bookkeeping (``index``, ``lineNumber``, ``lineStart``, ``curlyStack``) is kept exactly as the
original does. ``FastParser`` is esprima's ``Parser`` over that scanner, with ``nextToken``, the
leaf helpers and the expression chain every primary expression passes through rewritten with
local tests instead of ``match()`` calls; every recursive call of the original is kept (see
DEPTH_MARGIN). esprima's module is not patched: stock esprima elsewhere behaves as before.

``parse_module``/``parse_script`` are ``esprima.parseModule``/``parseScript`` for the options the
quality filter uses (none); other options take esprima's own code paths.
``tests/data/filter/test_esprima_fast.py`` checks them against stock esprima on snippets and on
every ``.js`` file under ``npm root -g``; ``benchmarks/esprima_speed.py`` times them.
"""

from __future__ import annotations

import functools
import re

from esprima import nodes as Node
from esprima.character import LINE_TERMINATOR, WHITE_SPACE
from esprima.error_handler import ErrorHandler
from esprima.messages import Messages
from esprima.parser import Config, Context, Marker, Params, Parser
from esprima.scanner import RawToken, Scanner
from esprima.syntax import Syntax
from esprima.token import Token

_BLANK = "".join(sorted(WHITE_SPACE | LINE_TERMINATOR))
# A run of whitespace and line terminators (their order inside the run does not matter for the count).
_BLANK_RUN = re.compile("[" + re.escape(_BLANK) + "]+")
_LINE_END = re.compile("[\n\r\u2028\u2029]")
# Where scanComments can do anything but return at once.
_SKIP_START = frozenset(_BLANK + "/-<")

_ASCII_ID_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ$_")
_ASCII_ID = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
# A plain decimal integer not followed by anything that would make esprima read on (or throw).
_PLAIN_INT = re.compile(r"(?:0|[1-9][0-9]*)(?![0-9.A-Za-z_$\\]|[^\x00-\x7f])")
_SIMPLE_STRING = {
    "'": re.compile("'[^'\\\\\n\r\u2028\u2029]*'"),
    '"': re.compile('"[^"\\\\\n\r\u2028\u2029]*"'),
}
_PUNCT = re.compile(
    r">>>=|===|!==|>>>|<<=|>>=|\*\*=|&&|\|\||==|!=|\+=|-=|\*=|/=|\+\+|--|<<|>>|&=|\|=|\^=|%="
    r"|<=|>=|=>|\*\*|[<>=!+\-*%&|^/]"
)
_SINGLE_PUNCT = frozenset("();,[]:?~")
_DIGITS = frozenset("0123456789")
_KEYWORDS = Scanner.isKeyword.set
_STRICT_RESERVED = Scanner.isStrictModeReservedWord.set

_IDENTIFIER, _KEYWORD, _PUNCTUATOR = Token.Identifier, Token.Keyword, Token.Punctuator
_ASSIGN_OR_ARROW = frozenset(
    ("=>", "=", "*=", "**=", "/=", "%=", "+=", "-=", "<<=", ">>=", ">>>=", "&=", "^=", "|=")
)
_UNARY_PUNCT = ("+", "-", "~", "!")
_UNARY_KEYWORD = ("delete", "void", "typeof")
_UPDATE = ("++", "--")
_DECLARATION_START = frozenset(("export", "import", "const", "function", "class", "let"))
_IDENTIFIER_NAME = (Token.Identifier, Token.Keyword, Token.BooleanLiteral, Token.NullLiteral)

# Stock esprima is never more than a handful of frames deeper than this parser at the same point
# of a parse: its scanner calls nest a few levels more (nextToken -> collectComments -> scanComments
# -> skipSingleLineComment -> eof), while every recursive parser call is kept here (some overrides
# even add a frame, via a ``_tail`` helper or a call to the original). So a parse that finishes under
# a recursion limit lowered by this margin finishes the same way under the full limit with stock
# esprima; one that hits the lowered limit is redone with stock esprima (``javascript.parse``),
# which decides: a tree, an error or a crash. testRegExp lets RecursionError through for this.
DEPTH_MARGIN = 50


def _lines_in(text: str) -> tuple[int, int]:
    """(line terminators in ``text`` with CRLF counted once, offset just past the last one or -1)."""
    n = text.count("\n") + text.count("\r") - text.count("\r\n") + text.count("\u2028") + text.count("\u2029")
    if n == 0:
        return 0, -1
    return n, max(text.rfind("\n"), text.rfind("\r"), text.rfind("\u2028"), text.rfind("\u2029")) + 1


class FastScanner(Scanner):
    """esprima's Scanner with fast paths; every path ends in the state the original would leave."""

    def _skip_line_comment(self, index: int) -> None:
        """``skipSingleLineComment`` without comment tracking, from ``index`` (past the opener)."""
        m = _LINE_END.search(self.source, index, self.length)
        if m is None:
            self.index = self.length
            return
        index = m.end()
        if m.group() == "\r" and self.source[index] == "\n":
            index += 1
        self.index = index
        self.lineNumber += 1
        self.lineStart = index

    def scanComments(self):
        if self.trackComment:
            return Scanner.scanComments(self)
        source, length = self.source, self.length
        index = self.index
        start = index == 0
        while index < length:
            ch = source[index]
            if ch in _BLANK:
                end = _BLANK_RUN.match(source, index, length).end()
                blank = source[index:end]
                if "\r" in blank or "\u2028" in blank or "\u2029" in blank:
                    n, last = _lines_in(blank)
                else:
                    n = blank.count("\n")
                    last = blank.rfind("\n") + 1
                if n:
                    self.lineNumber += n
                    self.lineStart = index + last
                    start = True
                index = end
            elif ch == "/":
                ch = source[index + 1]
                if ch == "/":
                    self._skip_line_comment(index + 2)
                    index = self.index
                    start = True
                elif ch == "*":
                    end = source.find("*/", index + 2, length)
                    body_end = length if end < 0 else end
                    n, last = _lines_in(source[index + 2 : body_end])
                    if n:
                        self.lineNumber += n
                        self.lineStart = index + 2 + last
                    if end < 0:
                        self.index = length
                        self.tolerateUnexpectedToken()
                        index = self.index
                    else:
                        index = end + 2
                else:
                    break
            elif start and ch == "-":
                if source[index + 1 : index + 3] == "->":
                    self._skip_line_comment(index + 3)
                    index = self.index
                else:
                    break
            elif ch == "<" and not self.isModule:
                if source[index + 1 : index + 4] == "!--":
                    self._skip_line_comment(index + 4)
                    index = self.index
                else:
                    break
            else:
                break
        self.index = index
        return []

    def lex(self):
        index = self.index
        if index >= self.length:
            return Scanner.lex(self)
        source = self.source
        ch = source[index]
        if ch in _ASCII_ID_START:
            end = _ASCII_ID.match(source, index).end()
            nxt = source[end]
            if nxt == "\\" or nxt >= "\x80":
                return Scanner.lex(self)
            value = source[index:end]
            if end - index == 1:
                kind = _IDENTIFIER
            elif value in _KEYWORDS:
                kind = _KEYWORD
            elif value == "null":
                kind = Token.NullLiteral
            elif value == "true" or value == "false":
                kind = Token.BooleanLiteral
            else:
                kind = _IDENTIFIER
            self.index = end
            return RawToken(
                type=kind,
                value=value,
                lineNumber=self.lineNumber,
                lineStart=self.lineStart,
                start=index,
                end=end,
            )
        if ch in _SINGLE_PUNCT:
            value, end = ch, index + 1
        elif ch == "{":
            self.curlyStack.append("{")
            value, end = ch, index + 1
        elif ch == "}":
            curly = self.curlyStack
            if curly:
                if curly[-1] == "${":
                    return Scanner.lex(self)
                curly.pop()
            value, end = ch, index + 1
        elif ch == ".":
            nxt = source[index + 1]
            if nxt in _DIGITS:
                return Scanner.lex(self)
            if nxt == "." and source[index + 2] == ".":
                value, end = "...", index + 3
            else:
                value, end = ch, index + 1
        elif ch == "'" or ch == '"':
            m = _SIMPLE_STRING[ch].match(source, index, self.length)
            if m is None:
                return Scanner.lex(self)
            end = m.end()
            self.index = end
            return RawToken(
                type=Token.StringLiteral,
                value=source[index + 1 : end - 1],
                octal=False,
                lineNumber=self.lineNumber,
                lineStart=self.lineStart,
                start=index,
                end=end,
            )
        elif ch in _DIGITS:
            m = _PLAIN_INT.match(source, index)
            if m is None:
                return Scanner.lex(self)
            end = m.end()
            number = float(source[index:end])
            self.index = end
            return RawToken(
                type=Token.NumericLiteral,
                value=int(number) if number.is_integer() else number,
                lineNumber=self.lineNumber,
                lineStart=self.lineStart,
                start=index,
                end=end,
            )
        else:
            m = _PUNCT.match(source, index)
            if m is None:
                return Scanner.lex(self)
            value, end = m.group(), m.end()
        self.index = end
        return RawToken(
            type=_PUNCTUATOR,
            value=value,
            lineNumber=self.lineNumber,
            lineStart=self.lineStart,
            start=index,
            end=end,
        )

    def testRegExp(self, pattern, flags):
        """The original, except that a RecursionError propagates instead of reading as an invalid
        regex: ``parse`` then reruns stock esprima at the full recursion limit (see DEPTH_MARGIN)."""
        astral = "\uffff"

        def astral_sub(m):
            code_point = int(m.group(1) or m.group(2), 16)
            if code_point > 0x10FFFF:
                self.tolerateUnexpectedToken(Messages.InvalidRegExp)
            elif code_point <= 0xFFFF:
                return chr(code_point)
            return astral

        pattern = re.sub(r"\\u\{([0-9a-fA-F]+)\}|\\u([a-fA-F0-9]{4})", astral_sub, pattern)
        pattern = re.sub(r"[\uD800-\uDBFF][\uDC00-\uDFFF]", astral, pattern)
        pyflags = 0 | re.M if "m" in flags else 0 | re.I if "i" in flags else 0
        try:
            return re.compile(pattern, pyflags)
        except RecursionError:
            raise
        except Exception:
            self.tolerateUnexpectedToken(Messages.InvalidRegExp)


class FastParser(Parser):
    """esprima's Parser over ``FastScanner``; ``__init__`` is the original's with the scanner swapped."""

    def __init__(self, code, options=None, delegate=None):
        self.config = Config(**(options or {}))
        self.delegate = delegate
        self.errorHandler = ErrorHandler()
        self.errorHandler.tolerant = self.config.tolerant
        self.scanner = FastScanner(code, self.errorHandler)
        self.scanner.trackComment = self.config.comment
        config = self.config  # the filter's case: no tokens, comments, locations, tolerance or delegate
        self._plain = not (
            config.comment or config.tokens or config.range or config.loc or config.tolerant or delegate
        )
        if not self._plain:  # the original nextToken records tokens/comments; this one does not
            self.nextToken = functools.partial(Parser.nextToken, self)
        self.operatorPrecedence = {
            "||": 1, "&&": 2, "|": 3, "^": 4, "&": 5, "==": 6, "!=": 6, "===": 6, "!==": 6,
            "<": 7, ">": 7, "<=": 7, ">=": 7, "instanceof": 7, "in": 7,
            "<<": 8, ">>": 8, ">>>": 8, "+": 9, "-": 9, "*": 11, "/": 11, "%": 11,
        }  # fmt: skip
        self.lookahead = RawToken(
            type=Token.EOF, value="", lineNumber=self.scanner.lineNumber, lineStart=0, start=0, end=0
        )
        self.hasLineTerminator = False
        self.context = Context(
            isModule=False,
            allowAwait=False,
            allowIn=True,
            allowStrictDirective=True,
            allowYield=True,
            firstCoverInitializedNameError=None,
            isAssignmentTarget=False,
            isBindingElement=False,
            inFunctionBody=False,
            inIteration=False,
            inSwitch=False,
            labelSet={},
            strict=False,
        )
        self.tokens = []
        self.startMarker = Marker(index=0, line=self.scanner.lineNumber, column=0)
        self.lastMarker = Marker(index=0, line=self.scanner.lineNumber, column=0)
        self.nextToken()
        self.lastMarker = Marker(
            index=self.scanner.index,
            line=self.scanner.lineNumber,
            column=self.scanner.index - self.scanner.lineStart,
        )

    def nextToken(self):
        token = self.lookahead
        scanner = self.scanner
        source = scanner.source
        index = scanner.index
        marker = self.lastMarker
        marker.index = index
        marker.line = scanner.lineNumber
        marker.column = index - scanner.lineStart

        ch = source[index]
        if ch in _SKIP_START and index < scanner.length:
            if ch == " " and source[index + 1] not in _SKIP_START:  # one space between two tokens
                index += 1
                scanner.index = index
            else:
                scanner.scanComments()
                index = scanner.index
            ch = source[index]

        lineNumber, lineStart = scanner.lineNumber, scanner.lineStart
        marker = self.startMarker
        if index != marker.index:
            marker.index = index
            marker.line = lineNumber
            marker.column = index - lineStart

        # scanner.lex() inlined for its two commonest cases (source[length] is a NUL sentinel).
        next = None
        if ch in _ASCII_ID_START:
            end = _ASCII_ID.match(source, index).end()
            nxt = source[end]
            if nxt != "\\" and nxt < "\x80":
                value = source[index:end]
                if end - index == 1:
                    kind = _IDENTIFIER
                elif value in _KEYWORDS:
                    kind = _KEYWORD
                elif value == "null":
                    kind = Token.NullLiteral
                elif value == "true" or value == "false":
                    kind = Token.BooleanLiteral
                else:
                    kind = _IDENTIFIER
                scanner.index = end
                next = RawToken(
                    type=kind, value=value, lineNumber=lineNumber, lineStart=lineStart, start=index, end=end
                )
        elif ch in _SINGLE_PUNCT:
            scanner.index = index + 1
            next = RawToken(
                type=_PUNCTUATOR,
                value=ch,
                lineNumber=lineNumber,
                lineStart=lineStart,
                start=index,
                end=index + 1,
            )
        if next is None:
            next = scanner.lex()

        self.hasLineTerminator = token.lineNumber != next.lineNumber
        if next.type is _IDENTIFIER and self.context.strict and next.value in _STRICT_RESERVED:
            next.type = _KEYWORD
        self.lookahead = next
        return token

    # Leaf helpers, called from the recursive methods but never recursing themselves: the same
    # logic with fewer attribute look-ups (their depth differs from the original's by a constant).

    def match(self, *value):
        lookahead = self.lookahead
        return lookahead.type is _PUNCTUATOR and lookahead.value in value

    def matchKeyword(self, *keyword):
        lookahead = self.lookahead
        return lookahead.type is _KEYWORD and lookahead.value in keyword

    def matchContextualKeyword(self, *keyword):
        lookahead = self.lookahead
        return lookahead.type is _IDENTIFIER and lookahead.value in keyword

    def expect(self, value):
        token = self.nextToken()
        if token.type is not _PUNCTUATOR or token.value != value:
            self.throwUnexpectedToken(token)

    def createNode(self):
        marker = self.startMarker
        return Marker(marker.index, marker.line, marker.column)

    def finalize(self, marker, node):
        return node if self._plain else Parser.finalize(self, marker, node)

    def startNode(self, token, lastLineStart=0):
        column = token.start - token.lineStart
        line = token.lineNumber
        if column < 0:
            column += lastLineStart
            line -= 1
        return Marker(token.start, line, column)

    def consumeSemicolon(self):
        lookahead = self.lookahead
        if lookahead.type is _PUNCTUATOR and lookahead.value == ";":
            self.nextToken()
        elif not self.hasLineTerminator:
            if lookahead.type is not Token.EOF and not (
                lookahead.type is _PUNCTUATOR and lookahead.value == "}"
            ):
                self.throwUnexpectedToken(lookahead)
            last, start = self.lastMarker, self.startMarker
            last.index = start.index
            last.line = start.line
            last.column = start.column

    def parseIdentifierName(self):
        node = None if self._plain else self.createNode()
        token = self.nextToken()
        if token.type not in _IDENTIFIER_NAME:
            self.throwUnexpectedToken(token)
        return self.finalize(node, Node.Identifier(token.value))

    # The cover-grammar wrappers stay one frame each, as in the original (see DEPTH_MARGIN).

    def isolateCoverGrammar(self, parseFunction):
        context = self.context
        previous = (
            context.isBindingElement,
            context.isAssignmentTarget,
            context.firstCoverInitializedNameError,
        )
        context.isBindingElement = True
        context.isAssignmentTarget = True
        context.firstCoverInitializedNameError = None

        result = parseFunction()
        if context.firstCoverInitializedNameError is not None:
            self.throwUnexpectedToken(context.firstCoverInitializedNameError)

        context.isBindingElement, context.isAssignmentTarget, context.firstCoverInitializedNameError = (
            previous
        )
        return result

    def inheritCoverGrammar(self, parseFunction):
        context = self.context
        binding = context.isBindingElement
        target = context.isAssignmentTarget
        cover_error = context.firstCoverInitializedNameError
        context.isBindingElement = True
        context.isAssignmentTarget = True
        context.firstCoverInitializedNameError = None

        result = parseFunction()

        # ``x = x and previous`` / ``x = previous or x``, storing only when the value changes.
        if context.isBindingElement:
            context.isBindingElement = binding
        if context.isAssignmentTarget:
            context.isAssignmentTarget = target
        if cover_error:
            context.firstCoverInitializedNameError = cover_error
        return result

    # The expression chain every primary expression goes through. Each keeps the original's calls
    # to the other recursive methods (so no frame is saved per nesting level) and only replaces
    # match()/matchKeyword() calls and repeated attribute look-ups by local tests.

    def parseAssignmentExpression(self):
        lookahead = self.lookahead
        if not self.context.allowYield and lookahead.type is _KEYWORD and lookahead.value == "yield":
            return self.parseYieldExpression()
        startToken = token = lookahead
        expr = self.parseConditionalExpression()
        lookahead = self.lookahead
        if (
            expr.type is not Syntax.ArrowParameterPlaceHolder
            and lookahead.type is _PUNCTUATOR
            and lookahead.value not in _ASSIGN_OR_ARROW
            and (token.type is not _IDENTIFIER or token.value != "async")
        ):
            return expr
        if (
            lookahead.type is not _PUNCTUATOR
            and token.type is not _IDENTIFIER
            and (expr.type is not Syntax.ArrowParameterPlaceHolder)
        ):
            return expr
        return self._assignment_tail(startToken, token, expr)

    def _assignment_tail(self, startToken, token, expr):
        """The rest of the original ``parseAssignmentExpression``, verbatim."""
        if (
            token.type is Token.Identifier
            and (token.lineNumber == self.lookahead.lineNumber)
            and token.value == "async"
        ):
            if self.lookahead.type is Token.Identifier or self.matchKeyword("yield"):
                arg = self.parsePrimaryExpression()
                self.reinterpretExpressionAsPattern(arg)
                expr = Node.AsyncArrowParameterPlaceHolder([arg])

        if expr.type is Syntax.ArrowParameterPlaceHolder or self.match("=>"):
            # https://tc39.github.io/ecma262/#sec-arrow-function-definitions
            self.context.isAssignmentTarget = False
            self.context.isBindingElement = False
            isAsync = expr.isAsync
            list = self.reinterpretAsCoverFormalsList(expr)

            if list:
                if self.hasLineTerminator:
                    self.tolerateUnexpectedToken(self.lookahead)
                self.context.firstCoverInitializedNameError = None

                previousStrict = self.context.strict
                previousAllowStrictDirective = self.context.allowStrictDirective
                self.context.allowStrictDirective = list.simple

                previousAllowYield = self.context.allowYield
                previousAwait = self.context.allowAwait
                self.context.allowYield = True
                self.context.allowAwait = isAsync

                node = self.startNode(startToken)
                self.expect("=>")
                if self.match("{"):
                    previousAllowIn = self.context.allowIn
                    self.context.allowIn = True
                    body = self.parseFunctionSourceElements()
                    self.context.allowIn = previousAllowIn
                else:
                    body = self.isolateCoverGrammar(self.parseAssignmentExpression)
                expression = body.type is not Syntax.BlockStatement

                if self.context.strict and list.firstRestricted:
                    self.throwUnexpectedToken(list.firstRestricted, list.message)
                if self.context.strict and list.stricted:
                    self.tolerateUnexpectedToken(list.stricted, list.message)
                if isAsync:
                    expr = self.finalize(
                        node, Node.AsyncArrowFunctionExpression(list.params, body, expression)
                    )
                else:
                    expr = self.finalize(node, Node.ArrowFunctionExpression(list.params, body, expression))

                self.context.strict = previousStrict
                self.context.allowStrictDirective = previousAllowStrictDirective
                self.context.allowYield = previousAllowYield
                self.context.allowAwait = previousAwait
        else:
            if self.matchAssign():
                if not self.context.isAssignmentTarget:
                    self.tolerateError(Messages.InvalidLHSInAssignment)

                if self.context.strict and expr.type is Syntax.Identifier:
                    id = expr
                    if self.scanner.isRestrictedWord(id.name):
                        self.tolerateUnexpectedToken(token, Messages.StrictLHSAssignment)
                    if self.scanner.isStrictModeReservedWord(id.name):
                        self.tolerateUnexpectedToken(token, Messages.StrictReservedWord)

                if not self.match("="):
                    self.context.isAssignmentTarget = False
                    self.context.isBindingElement = False
                else:
                    self.reinterpretExpressionAsPattern(expr)

                token = self.nextToken()
                operator = token.value
                right = self.isolateCoverGrammar(self.parseAssignmentExpression)
                expr = self.finalize(
                    self.startNode(startToken), Node.AssignmentExpression(operator, expr, right)
                )
                self.context.firstCoverInitializedNameError = None

        return expr

    def parseConditionalExpression(self):
        startToken = self.lookahead
        expr = self.inheritCoverGrammar(self.parseBinaryExpression)
        lookahead = self.lookahead
        if lookahead.type is _PUNCTUATOR and lookahead.value == "?":
            context = self.context
            self.nextToken()

            previousAllowIn = context.allowIn
            context.allowIn = True
            consequent = self.isolateCoverGrammar(self.parseAssignmentExpression)
            context.allowIn = previousAllowIn

            self.expect(":")
            alternate = self.isolateCoverGrammar(self.parseAssignmentExpression)

            expr = self.finalize(
                self.startNode(startToken), Node.ConditionalExpression(expr, consequent, alternate)
            )
            context.isAssignmentTarget = False
            context.isBindingElement = False
        return expr

    def parseBinaryExpression(self):
        startToken = self.lookahead
        expr = self.inheritCoverGrammar(self.parseExponentiationExpression)
        token = self.lookahead
        if token.type is _PUNCTUATOR:
            if token.value not in self.operatorPrecedence:
                return expr
        elif token.type is not _KEYWORD or token.value not in ("instanceof", "in"):
            return expr
        return self._binary_tail(startToken, expr)

    def _binary_tail(self, startToken, expr):
        """The rest of the original ``parseBinaryExpression``, verbatim."""
        token = self.lookahead
        prec = self.binaryPrecedence(token)
        if prec > 0:
            self.nextToken()

            self.context.isAssignmentTarget = False
            self.context.isBindingElement = False

            markers = [startToken, self.lookahead]
            left = expr
            right = self.isolateCoverGrammar(self.parseExponentiationExpression)

            stack = [left, token.value, right]
            precedences = [prec]
            while True:
                prec = self.binaryPrecedence(self.lookahead)
                if prec <= 0:
                    break

                # Reduce: make a binary expression from the three topmost entries.
                while len(stack) > 2 and prec <= precedences[-1]:
                    right = stack.pop()
                    operator = stack.pop()
                    precedences.pop()
                    left = stack.pop()
                    markers.pop()
                    node = self.startNode(markers[-1])
                    stack.append(self.finalize(node, Node.BinaryExpression(operator, left, right)))

                # Shift.
                stack.append(self.nextToken().value)
                precedences.append(prec)
                markers.append(self.lookahead)
                stack.append(self.isolateCoverGrammar(self.parseExponentiationExpression))

            # Final reduce to clean-up the stack.
            i = len(stack) - 1
            expr = stack[i]

            lastMarker = markers.pop()
            while i > 1:
                marker = markers.pop()
                lastLineStart = lastMarker.lineStart if lastMarker else 0
                node = self.startNode(marker, lastLineStart)
                operator = stack[i - 1]
                expr = self.finalize(node, Node.BinaryExpression(operator, stack[i - 2], expr))
                i -= 2
                lastMarker = marker

        return expr

    def parseExponentiationExpression(self):
        startToken = self.lookahead
        expr = self.inheritCoverGrammar(self.parseUnaryExpression)
        lookahead = self.lookahead
        if (
            expr.type is not Syntax.UnaryExpression
            and lookahead.type is _PUNCTUATOR
            and lookahead.value == "**"
        ):
            self.nextToken()
            self.context.isAssignmentTarget = False
            self.context.isBindingElement = False
            left = expr
            right = self.isolateCoverGrammar(self.parseExponentiationExpression)
            expr = self.finalize(self.startNode(startToken), Node.BinaryExpression("**", left, right))
        return expr

    def parseUnaryExpression(self):
        lookahead = self.lookahead
        kind = lookahead.type
        if (kind is _PUNCTUATOR and lookahead.value in _UNARY_PUNCT) or (
            kind is _KEYWORD and lookahead.value in _UNARY_KEYWORD
        ):
            node = self.startNode(lookahead)
            token = self.nextToken()
            expr = self.inheritCoverGrammar(self.parseUnaryExpression)
            expr = self.finalize(node, Node.UnaryExpression(token.value, expr))
            if self.context.strict and expr.operator == "delete" and expr.argument.type is Syntax.Identifier:
                self.tolerateError(Messages.StrictDelete)
            self.context.isAssignmentTarget = False
            self.context.isBindingElement = False
        elif self.context.allowAwait and kind is _IDENTIFIER and lookahead.value == "await":
            expr = self.parseAwaitExpression()
        else:
            expr = self.parseUpdateExpression()
        return expr

    def parseUpdateExpression(self):
        startToken = self.lookahead
        context = self.context
        if startToken.type is _PUNCTUATOR and startToken.value in _UPDATE:
            node = self.startNode(startToken)
            token = self.nextToken()
            expr = self.inheritCoverGrammar(self.parseUnaryExpression)
            if context.strict and expr.type is Syntax.Identifier and self.scanner.isRestrictedWord(expr.name):
                self.tolerateError(Messages.StrictLHSPrefix)
            if not context.isAssignmentTarget:
                self.tolerateError(Messages.InvalidLHSInAssignment)
            prefix = True
            expr = self.finalize(node, Node.UpdateExpression(token.value, expr, prefix))
            context.isAssignmentTarget = False
            context.isBindingElement = False
        else:
            expr = self.inheritCoverGrammar(self.parseLeftHandSideExpressionAllowCall)
            lookahead = self.lookahead
            if not self.hasLineTerminator and lookahead.type is _PUNCTUATOR and lookahead.value in _UPDATE:
                if (
                    context.strict
                    and expr.type is Syntax.Identifier
                    and self.scanner.isRestrictedWord(expr.name)
                ):
                    self.tolerateError(Messages.StrictLHSPostfix)
                if not context.isAssignmentTarget:
                    self.tolerateError(Messages.InvalidLHSInAssignment)
                context.isAssignmentTarget = False
                context.isBindingElement = False
                operator = self.nextToken().value
                prefix = False
                expr = self.finalize(
                    self.startNode(startToken), Node.UpdateExpression(operator, expr, prefix)
                )
        return expr

    def parsePrimaryExpression(self):
        lookahead = self.lookahead
        kind = lookahead.type
        if kind is _IDENTIFIER:
            node = None if self._plain else self.createNode()  # finalize() ignores it when plain
            context = self.context
            if (context.isModule or context.allowAwait) and lookahead.value == "await":
                self.tolerateUnexpectedToken(lookahead)
            if lookahead.value == "async" and self.matchAsyncFunction():
                return self.parseFunctionExpression()
            return self.finalize(node, Node.Identifier(self.nextToken().value))
        if kind is Token.NumericLiteral or kind is Token.StringLiteral:
            node = None if self._plain else self.createNode()  # finalize() ignores it when plain
            context = self.context
            if context.strict and lookahead.octal:
                self.tolerateUnexpectedToken(lookahead, Messages.StrictOctalLiteral)
            context.isAssignmentTarget = False
            context.isBindingElement = False
            token = self.nextToken()
            return self.finalize(
                node, Node.Literal(token.value, self.scanner.source[token.start : token.end])
            )
        if kind is _PUNCTUATOR:
            value = lookahead.value
            if value == "(":
                self.context.isBindingElement = False
                return self.inheritCoverGrammar(self.parseGroupExpression)
            if value == "[":
                return self.inheritCoverGrammar(self.parseArrayInitializer)
            if value == "{":
                return self.inheritCoverGrammar(self.parseObjectInitializer)
        return Parser.parsePrimaryExpression(self)  # one frame deeper than the original: safe

    def parseArguments(self):
        self.expect("(")
        args = []
        lookahead = self.lookahead
        if not (lookahead.type is _PUNCTUATOR and lookahead.value == ")"):
            while True:
                lookahead = self.lookahead
                if lookahead.type is _PUNCTUATOR and lookahead.value == "...":
                    expr = self.parseSpreadElement()
                else:
                    expr = self.isolateCoverGrammar(self.parseAssignmentExpression)
                args.append(expr)
                lookahead = self.lookahead
                if lookahead.type is _PUNCTUATOR and lookahead.value == ")":
                    break
                self.expectCommaSeparator()
                lookahead = self.lookahead
                if lookahead.type is _PUNCTUATOR and lookahead.value == ")":
                    break
        self.expect(")")
        return args

    def parseStatementListItem(self):
        context = self.context
        context.isAssignmentTarget = True
        context.isBindingElement = True
        lookahead = self.lookahead
        if lookahead.type is _KEYWORD and lookahead.value in _DECLARATION_START:
            return self._statement_list_item_tail()
        return self.parseStatement()

    def _statement_list_item_tail(self):
        """The keyword branch of the original ``parseStatementListItem``, verbatim."""
        value = self.lookahead.value
        if value == "export":
            if not self.context.isModule:
                self.tolerateUnexpectedToken(self.lookahead, Messages.IllegalExportDeclaration)
            statement = self.parseExportDeclaration()
        elif value == "import":
            if self.matchImportCall():
                statement = self.parseExpressionStatement()
            else:
                if not self.context.isModule:
                    self.tolerateUnexpectedToken(self.lookahead, Messages.IllegalImportDeclaration)
                statement = self.parseImportDeclaration()
        elif value == "const":
            statement = self.parseLexicalDeclaration(Params(inFor=False))
        elif value == "function":
            statement = self.parseFunctionDeclaration()
        elif value == "class":
            statement = self.parseClassDeclaration()
        elif value == "let":
            statement = (
                self.parseLexicalDeclaration(Params(inFor=False))
                if self.isLexicalDeclaration()
                else self.parseStatement()
            )
        else:
            statement = self.parseStatement()
        return statement

    def parseExpression(self):
        startToken = self.lookahead
        expr = self.isolateCoverGrammar(self.parseAssignmentExpression)
        lookahead = self.lookahead
        if lookahead.type is _PUNCTUATOR and lookahead.value == ",":
            expressions = [expr]
            while self.lookahead.type is not Token.EOF:
                if not self.match(","):
                    break
                self.nextToken()
                expressions.append(self.isolateCoverGrammar(self.parseAssignmentExpression))
            expr = self.finalize(self.startNode(startToken), Node.SequenceExpression(expressions))
        return expr

    def parseLeftHandSideExpressionAllowCall(self):
        startToken = self.lookahead
        maybeAsync = startToken.type is _IDENTIFIER and startToken.value == "async"
        context = self.context

        previousAllowIn = context.allowIn
        context.allowIn = True

        if startToken.type is _KEYWORD and startToken.value == "super" and context.inFunctionBody:
            expr = self.createNode()
            self.nextToken()
            expr = self.finalize(expr, Node.Super())
            if not self.match("(") and not self.match(".") and not self.match("["):
                self.throwUnexpectedToken(self.lookahead)
        else:
            new = startToken.type is _KEYWORD and startToken.value == "new"
            expr = self.inheritCoverGrammar(self.parseNewExpression if new else self.parsePrimaryExpression)

        while True:
            lookahead = self.lookahead
            if lookahead.type is _PUNCTUATOR:
                value = lookahead.value
                if value == ".":
                    context.isBindingElement = False
                    context.isAssignmentTarget = True
                    self.expect(".")
                    property = self.parseIdentifierName()
                    expr = self.finalize(
                        None if self._plain else self.startNode(startToken),
                        Node.StaticMemberExpression(expr, property),
                    )
                elif value == "(":
                    asyncArrow = maybeAsync and (startToken.lineNumber == lookahead.lineNumber)
                    context.isBindingElement = False
                    context.isAssignmentTarget = False
                    if asyncArrow:
                        args = self.parseAsyncArguments()
                    else:
                        args = self.parseArguments()
                    if expr.type is Syntax.Import and len(args) != 1:
                        self.tolerateError(Messages.BadImportCallArity)
                    expr = self.finalize(
                        None if self._plain else self.startNode(startToken), Node.CallExpression(expr, args)
                    )
                    if asyncArrow and self.match("=>"):
                        for arg in args:
                            self.reinterpretExpressionAsPattern(arg)
                        expr = Node.AsyncArrowParameterPlaceHolder(args)
                elif value == "[":
                    context.isBindingElement = False
                    context.isAssignmentTarget = True
                    self.expect("[")
                    property = self.isolateCoverGrammar(self.parseExpression)
                    self.expect("]")
                    expr = self.finalize(
                        self.startNode(startToken), Node.ComputedMemberExpression(expr, property)
                    )
                else:
                    break
            elif lookahead.type is Token.Template and lookahead.head:
                quasi = self.parseTemplateLiteral()
                expr = self.finalize(
                    None if self._plain else self.startNode(startToken),
                    Node.TaggedTemplateExpression(expr, quasi),
                )
            else:
                break

        context.allowIn = previousAllowIn
        return expr


def _parse(code: str, source_type: str):
    parser = FastParser(code, options={"sourceType": source_type})
    return parser.parseModule() if source_type == "module" else parser.parseScript()


def parse_module(code: str):
    """``esprima.parseModule(code)``: the same tree, or the same ``esprima.Error``."""
    return _parse(code, "module")


def parse_script(code: str):
    """``esprima.parseScript(code)``: the same tree, or the same ``esprima.Error``."""
    return _parse(code, "script")
