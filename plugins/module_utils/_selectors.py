# Copyright: kubeops.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Label selectors: the kubectl ``-l`` syntax, the LabelSelector dict form, and matching.

The string grammar follows k8s.io/apimachinery/pkg/labels/selector.go: comma-separated
requirements ``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin (a,b)``, ``k`` (exists) and
``!k`` (does not exist); all of them must hold. The dict form is a metav1.LabelSelector
(``matchLabels``/``matchExpressions``) or a plain ``{key: value}`` map such as a Service's
``spec.selector``.

Private to the kubeops.platform collection: no compatibility promise outside it.
Standard library only: modules import it on the managed node.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ansible_collections.kubeops.platform.plugins.module_utils._validation import (
    show,
    type_name,
    validate_choice,
    validate_label_value,
    validate_qualified_name,
)

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
_SELECTOR_FIELDS = ("matchLabels", "matchExpressions")
_EXPRESSION_FIELDS = ("key", "operator", "values")
_SYMBOLS = "!=,()<>"
_KEYWORDS = ("in", "notin")


class _Token(NamedTuple):
    kind: str  # "ident", "end", or the symbol itself: "!", "=", "==", "!=", ",", "(", ")", "<", ">"
    text: str


def _scan(text: str) -> list[_Token]:
    tokens = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
        elif char in "!=" and text[i + 1:i + 2] == "=":
            tokens.append(_Token(char + "=", char + "="))
            i += 2
        elif char in _SYMBOLS:
            tokens.append(_Token(char, char))
            i += 1
        else:
            start = i
            while i < len(text) and not text[i].isspace() and text[i] not in _SYMBOLS:
                i += 1
            tokens.append(_Token("ident", text[start:i]))
    tokens.append(_Token("end", ""))
    return tokens


def _describe(token: _Token) -> str:
    return "end of input" if token.kind == "end" else show(token.text)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _scan(text)
        self.position = 0

    def peek(self) -> _Token:
        return self.tokens[self.position]

    def next(self) -> _Token:
        token = self.tokens[self.position]
        if token.kind != "end":
            self.position += 1
        return token

    def parse(self) -> list[tuple[str, str, list[str]]]:
        requirements = [self.requirement()]
        while True:
            token = self.next()
            if token.kind == "end":
                return requirements
            if token.kind != ",":
                raise ValueError(
                    f"expected ',' or end of input after the requirement on "
                    f"{show(requirements[-1][0])}, found {_describe(token)}"
                )
            requirements.append(self.requirement())

    def requirement(self) -> tuple[str, str, list[str]]:
        token = self.next()
        negated = token.kind == "!"
        if negated:
            token = self.next()
        if token.kind != "ident" or token.text in _KEYWORDS:
            after = " after '!'" if negated else ""
            raise ValueError(f"expected a label key{after}, found {_describe(token)}")
        key = token.text
        validate_qualified_name(key)

        if self.peek().kind in ("end", ","):
            return key, "DoesNotExist" if negated else "Exists", []
        if negated:
            raise ValueError(
                f"'!{key}' takes no operator or value: write '!{key}' alone for "
                f"'{key} does not exist', or '{key}!=value'"
            )
        operator = self.next()
        if operator.kind in ("=", "=="):
            return key, "=", [self.exact_value(key, operator.text)]
        if operator.kind == "!=":
            return key, "NotIn", [self.exact_value(key, operator.text)]
        if operator.kind == "ident" and operator.text in _KEYWORDS:
            return key, "In" if operator.text == "in" else "NotIn", self.value_set(key, operator.text)
        if operator.kind in ("<", ">"):
            raise ValueError(
                f"operator '{operator.text}' on {show(key)} is not supported: use =, ==, !=, in, "
                "notin, 'key' (exists) or '!key' (does not exist)"
            )
        raise ValueError(
            f"expected an operator (=, ==, !=, in, notin), ',' or end of input after "
            f"{show(key)}, found {_describe(operator)}"
        )

    def exact_value(self, key: str, operator: str) -> str:
        if self.peek().kind in ("end", ","):
            return ""
        token = self.next()
        if token.kind != "ident":
            raise ValueError(f"expected a value after '{operator}' for {show(key)}, found {_describe(token)}")
        validate_label_value(token.text, key)
        return token.text

    def value_set(self, key: str, operator: str) -> list[str]:
        token = self.next()
        if token.kind != "(":
            raise ValueError(f"expected '(' after '{operator}' for {show(key)}, found {_describe(token)}")
        values: list[str] = []
        last = "("
        while True:
            token = self.next()
            if token.kind == "ident":
                if last == "ident":
                    raise ValueError(
                        f"expected ',' or ')' between values of {show(key)}, found {show(token.text)}"
                    )
                validate_label_value(token.text, key)
                values.append(token.text)
            elif token.kind == ",":
                # "(,", ",," and ",)" each stand for an empty value, as in Kubernetes.
                if last in ("(", ","):
                    values.append("")
            elif token.kind == ")":
                if last == ",":
                    values.append("")
                break
            elif token.kind == "end":
                raise ValueError(f"missing ')' after values of {show(key)}")
            else:
                raise ValueError(
                    f"expected a value, ',' or ')' in values of {show(key)}, found {show(token.text)}"
                )
            last = token.kind
        if not values:
            raise ValueError(f"'{operator}' on {show(key)} needs at least one value")
        return sorted(set(values))


def parse_selector(text: str) -> dict:
    """Parse a kubectl label selector into LabelSelector form (empty parts omitted).

    ``!=`` becomes ``NotIn`` with one value; a key given twice with ``=`` keeps the first in
    ``matchLabels`` and adds the next as ``In``. Values of ``in``/``notin`` are sorted and
    deduplicated, as Kubernetes stores them. An empty selector selects everything: ``{}``.
    """
    if not isinstance(text, str):
        raise ValueError(
            f"label selector {show(text)} is invalid: expected a string like 'app=web,tier!=db' "
            f"(got {type_name(text)})"
        )
    if not text.strip():
        return {}
    try:
        requirements = _Parser(text).parse()
    except ValueError as exc:
        raise ValueError(f"label selector {show(text)} is invalid: {exc}") from None

    match_labels: dict = {}
    expressions: list = []
    for key, operator, values in requirements:
        if operator == "=" and key not in match_labels:
            match_labels[key] = values[0]
        elif operator in ("=", "In", "NotIn"):
            expressions.append({"key": key, "operator": "In" if operator == "=" else operator, "values": values})
        else:
            expressions.append({"key": key, "operator": operator})
    return _compose(match_labels, expressions)


def _compose(match_labels: dict, expressions: list) -> dict:
    selector: dict = {}
    if match_labels:
        selector["matchLabels"] = match_labels
    if expressions:
        selector["matchExpressions"] = expressions
    return selector


def normalize_selector(selector: str | dict | None) -> dict:
    """Validate a selector in any accepted form and return its LabelSelector dict form.

    A string is parsed; a dict with only ``matchLabels``/``matchExpressions`` is a LabelSelector;
    any other dict is a plain ``{key: value}`` map (every pair must match). ``None`` selects everything.
    """
    if selector is None:
        return {}
    if isinstance(selector, str):
        return parse_selector(selector)
    if not isinstance(selector, dict):
        raise ValueError(
            f"label selector {show(selector)} is invalid: expected a string like 'app=web' or a dict "
            f"(got {type_name(selector)})"
        )
    try:
        return _normalize_dict(selector)
    except ValueError as exc:
        raise ValueError(f"label selector {show(selector)} is invalid: {exc}") from None


def _normalize_dict(selector: dict) -> dict:
    structured = [field for field in selector if field in _SELECTOR_FIELDS]
    if structured and len(structured) != len(selector):
        plain = [field for field in selector if field not in _SELECTOR_FIELDS]
        raise ValueError(
            f"it mixes {', '.join(structured)} with plain labels {', '.join(show(k) for k in plain)}; "
            "put those labels under matchLabels"
        )
    if not structured:
        return _compose(_match_labels(selector), [])

    match_labels = _match_labels(selector.get("matchLabels") or {})
    expressions = selector.get("matchExpressions") or []
    if not isinstance(expressions, list):
        raise ValueError(f"matchExpressions must be a list (got {type_name(expressions)})")
    return _compose(match_labels, [_expression(item) for item in expressions])


def _match_labels(labels: Any) -> dict:
    if not isinstance(labels, dict):
        raise ValueError(f"matchLabels must be a dict of label keys to values (got {type_name(labels)})")
    for key, value in labels.items():
        validate_qualified_name(key)
        validate_label_value(value, key)
    return dict(labels)


def _expression(item: Any) -> dict:
    if not isinstance(item, dict):
        raise ValueError(
            f"match expression {show(item)} must be a dict with key, operator and values "
            f"(got {type_name(item)})"
        )
    unknown = [field for field in item if field not in _EXPRESSION_FIELDS]
    if unknown:
        raise ValueError(
            f"match expression {show(item)} has unknown field(s) {', '.join(show(f) for f in unknown)}: "
            f"it has only {', '.join(_EXPRESSION_FIELDS)}"
        )
    key = item.get("key")
    if key in (None, ""):
        raise ValueError(f"match expression {show(item)} has no key")
    validate_qualified_name(key)
    operator = item.get("operator")
    validate_choice(operator, OPERATORS, f"match expression on {show(key)}: operator")
    values = item.get("values") or []
    if not isinstance(values, list):
        raise ValueError(f"match expression on {show(key)}: values must be a list (got {type_name(values)})")
    if operator in ("Exists", "DoesNotExist"):
        if values:
            raise ValueError(f"match expression on {show(key)}: operator {operator} takes no values")
        return {"key": key, "operator": operator}
    if not values:
        raise ValueError(f"match expression on {show(key)}: operator {operator} needs at least one value")
    for value in values:
        validate_label_value(value, key)
    return {"key": key, "operator": operator, "values": sorted(set(values))}


def format_selector(selector: str | dict) -> str:
    """The canonical string form, as the API's ``labelSelector`` parameter accepts it.

    Requirements are sorted by key; single-value ``In``/``NotIn`` are written ``key=value``/``key!=value``.
    """
    normalized = normalize_selector(selector)
    parts = [(key, f"{key}={value}") for key, value in normalized.get("matchLabels", {}).items()]
    for expression in normalized.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        if operator == "Exists":
            text = key
        elif operator == "DoesNotExist":
            text = f"!{key}"
        elif len(values) == 1:
            text = f"{key}{'=' if operator == 'In' else '!='}{values[0]}"
        else:
            text = f"{key} {'in' if operator == 'In' else 'notin'} ({','.join(values)})"
        parts.append((key, text))
    parts.sort(key=lambda part: part[0])
    return ",".join(text for _key, text in parts)


def selector_match(labels: dict | None, selector: str | dict) -> bool:
    """Whether an object with ``labels`` is selected, with Kubernetes semantics.

    ``!=``/``notin``/``!key`` match objects that lack the key; an empty selector matches all.
    """
    normalized = normalize_selector(selector)
    if labels is None:
        labels = {}
    if not isinstance(labels, dict):
        raise ValueError(f"labels {show(labels)} must be a dict of label keys to values (got {type_name(labels)})")
    for key, value in normalized.get("matchLabels", {}).items():
        if key not in labels or labels[key] != value:
            return False
    for expression in normalized.get("matchExpressions", []):
        key, operator = expression["key"], expression["operator"]
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
        if operator == "In" and (key not in labels or labels[key] not in expression["values"]):
            return False
        if operator == "NotIn" and key in labels and labels[key] in expression["values"]:
            return False
    return True
