"""The rules of the junit-10.xsd schema (the Jenkins xunit plugin's, which most JUnit
consumers follow), checked on a parsed file: which children and attributes each element
may have, which attributes it must have, and the characters XML 1.0 allows.

Where versions of the schema differ, the stricter rule is kept (no `file` on a
testsuite, no `assertions` or `status` on a testcase)."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

TEXT_ONLY = frozenset()
RULES = {
    # element: (children allowed, attributes required, attributes allowed)
    "testsuites": ({"testsuite"}, set(), {"name", "time", "tests", "failures", "errors"}),
    "testsuite": ({"testsuite", "properties", "testcase", "system-out", "system-err"},
                  {"name", "tests", "failures", "errors"},
                  {"name", "tests", "failures", "errors", "time", "skipped", "timestamp",
                   "hostname", "id", "package"}),
    "properties": ({"property"}, set(), set()),
    "property": (TEXT_ONLY, {"name", "value"}, {"name", "value"}),
    "testcase": ({"skipped", "error", "failure", "system-out", "system-err"},
                 {"name"}, {"name", "time", "classname"}),
    "failure": (TEXT_ONLY, set(), {"type", "message"}),
    "error": (TEXT_ONLY, set(), {"type", "message"}),
    "skipped": (TEXT_ONLY, set(), {"type", "message"}),
    "system-out": (TEXT_ONLY, set(), set()),
    "system-err": (TEXT_ONLY, set(), set()),
}
SUREFIRE_TIME = re.compile(r"(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]*)?")
# Characters XML 1.0 cannot carry, even escaped.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def violations(data: bytes) -> list[str]:
    """Every way the file breaks the schema's rules; [] when it follows them."""
    text = data.decode("utf-8")
    bad = [f"character U+{ord(m.group()):04X} at offset {m.start()}"
           for m in NOT_XML.finditer(text)]
    if bad:
        return bad
    try:
        root = ET.fromstring(data)       # also refuses &#1; and the like
    except ET.ParseError as e:
        return [f"not well-formed: {e}"]
    if root.tag not in ("testsuites", "testsuite"):
        return [f"root element <{root.tag}>"]
    out: list[str] = []

    def walk(e, where):
        children, required, allowed = RULES.get(e.tag, (None, None, None))
        if children is None:
            out.append(f"{where}: unknown element <{e.tag}>")
            return
        for a in e.attrib:
            if a not in allowed:
                out.append(f"{where}: attribute {a!r} not allowed on <{e.tag}>")
        for a in required - set(e.attrib):
            out.append(f"{where}: <{e.tag}> lacks the required attribute {a!r}")
        if e.tag in ("testsuite", "testsuites") and "time" in e.attrib:
            if not SUREFIRE_TIME.fullmatch(e.attrib["time"]):
                out.append(f"{where}: time={e.attrib['time']!r}")
        for c in e:
            if c.tag not in children:
                out.append(f"{where}: <{c.tag}> not allowed inside <{e.tag}>")
            else:
                walk(c, f"{where}/{c.tag}")

    walk(root, root.tag)
    return out
