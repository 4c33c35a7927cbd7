"""Draw a `MachineDef` as Mermaid or Graphviz DOT text, straight from its table."""

from __future__ import annotations

from arbiter.fsm.table import MachineDef, Transition


def _label(t: Transition) -> str:
    label = t.trigger
    if t.guards:
        label += " [" + ", ".join(t.guards) + "]"
    return label


def _edges(defn: MachineDef) -> list[tuple[str, str, str]]:
    edges: list[tuple[str, str, str]] = []
    for t in defn.transitions:
        for source in t.sources:
            edges.append(
                (source, t.dest or source, _label(t) + (" (ignored)" if t.dest is None else ""))
            )
    return edges


def _ident(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


def to_mermaid(defn: MachineDef) -> str:
    lines = [
        "stateDiagram-v2",
        f"    %% {defn.name}: {defn.description}",
        f"    [*] --> {_ident(defn.initial)}",
    ]
    for state in defn.states:
        lines.append(f"    {_ident(state.name)} : {state.name}")
    for source, dest, label in _edges(defn):
        lines.append(f"    {_ident(source)} --> {_ident(dest)} : {label.replace(':', ' ')}")
    lines.extend(f"    {_ident(s.name)} --> [*]" for s in defn.states if s.terminal)
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(defn: MachineDef) -> str:
    lines = [
        f"digraph {_quote(defn.name)} {{",
        "    rankdir=LR;",
        f"    label={_quote(defn.name + ': ' + defn.description)};",
        "    node [shape=box, style=rounded];",
        '    __start [shape=point, label=""];',
        f"    __start -> {_quote(defn.initial)};",
    ]
    for state in defn.states:
        shape = ", peripheries=2" if state.terminal else ""
        lines.append(f"    {_quote(state.name)} [tooltip={_quote(state.description)}{shape}];")
    for source, dest, label in _edges(defn):
        style = ", style=dashed" if source == dest else ""
        lines.append(f"    {_quote(source)} -> {_quote(dest)} [label={_quote(label)}{style}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
