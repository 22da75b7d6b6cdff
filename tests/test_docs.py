"""The documentation keeps up with the code.

* docs/api.md names every public name of tlsctx;
* docs/differences.md names every entry of the test modules' difference
  tables, and marks the CPython versions each applies to as the tables do;
* the README keeps the two set-up commands, and its example runs.
"""
import pathlib
import re
import sys
import types

import pytest

import tlsctx
import test_certificates
import test_endpoint
import test_hardening
import test_modern_api
import test_parity
import test_trust_cache

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
VERSIONS = ["3.10", "3.11", "3.12", "3.13", "3.14", "3.15"]
RUNNING = "%d.%d" % sys.version_info[:2]


def public_names():
    """dir(tlsctx) without private names, modules and helpers imported from
    elsewhere (such as collections.namedtuple)."""
    names = []
    for name in dir(tlsctx):
        value = getattr(tlsctx, name)
        if name.startswith("_") or isinstance(value, types.ModuleType):
            continue
        module = getattr(value, "__module__", None)
        if callable(value) and module not in (None, "tlsctx", "tlsctx._tlsctx", "builtins"):
            continue
        names.append(name)
    return names


def backticked(text):
    """Every identifier that appears inside a `code` span."""
    words = set()
    for span in re.findall(r"`([^`\n]+)`", text):
        words.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", span))
    return words


def test_api_reference_names_every_public_name():
    documented = backticked((DOCS / "api.md").read_text())
    missing = [name for name in public_names() if name not in documented]
    assert not missing, "public names missing from docs/api.md: %s" % missing


def test_public_names_are_found():
    # the filter above keeps the families it must check
    names = public_names()
    for expected in ("SSLContext", "create_default_context", "OP_ALL", "TLSVersion",
                     "SSLError", "socket_error", "get_sigalgs", "clear_trust_cache"):
        assert expected in names
    assert "namedtuple" not in names and "warnings" not in names


# ---- the differences page -------------------------------------------------------------

DIFFERENCES = (DOCS / "differences.md").read_text()


_PATCH_CELL = re.compile(r"^before (3\.\d+\.\d+)$")


def is_version_cell(cell):
    """differs, same, "before 3.x.y" (removed by that bug-fix release) or
    "some" (some bug-fix releases of that version differ)."""
    return cell in ("differs", "same", "some") or _PATCH_CELL.match(cell) is not None


def version_rows():
    """Table rows ending in one version cell per CPython version, by each
    `name` in their first cell."""
    rows = {}
    width = len(VERSIONS)
    for line in DIFFERENCES.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) > width and all(is_version_cell(c) for c in cells[-width:]):
            for key in re.findall(r"`([^`]+)`", cells[0]):
                rows[key] = dict(zip(VERSIONS, cells[-width:]))
    return rows


ROWS = version_rows()


def expected_cells(first_agreeing):
    return {v: "differs" if tuple(map(int, v.split("."))) < first_agreeing else "same"
            for v in VERSIONS}


def cell_says_differs(cell, version_info):
    """Whether a cell marks the interpreter `version_info` as differing
    (None for "some": the tests ask the running stdlib)."""
    match = _PATCH_CELL.match(cell)
    if match:
        return tuple(version_info[:3]) < tuple(map(int, match.group(1).split(".")))
    return {"differs": True, "same": False}.get(cell)


def threshold_tables():
    """(entry, first CPython version whose stdlib agrees with tlsctx)."""
    for name, (first, _) in test_parity.DOCUMENTED_DIFFERENCES.items():
        yield name, first
    for (_, route), (first, _) in test_certificates.STDLIB_DIFFERENCES.items():
        yield route, first
    for name, first in test_hardening.OLDER_STDLIB.items():
        yield name, first


@pytest.mark.parametrize("entry,first", list(threshold_tables()), ids=repr)
def test_versioned_difference_is_documented(entry, first):
    assert entry in ROWS, "docs/differences.md has no row for %r" % entry
    assert ROWS[entry] == expected_cells(first), entry


@pytest.mark.parametrize("entry", sorted(test_parity.PATCH_DIFFERENCES))
def test_patch_release_difference_is_documented(entry):
    firsts, _ = test_parity.PATCH_DIFFERENCES[entry]
    assert entry in ROWS, "docs/differences.md has no row for %r" % entry
    for version in VERSIONS:
        minor = tuple(map(int, version.split(".")))
        first = firsts.get(minor)
        expected = "same" if first is None else "before %d.%d.%d" % first
        assert ROWS[entry][version] == expected, (entry, version)
    assert cell_says_differs(ROWS[entry][RUNNING], sys.version_info) == \
        test_parity.differs_here(entry)


def test_running_interpreter_differences_are_marked():
    """Tables that only say whether the running stdlib differs."""
    marked = {}
    marked["default_context_flags"] = test_trust_cache.STDLIB_313_DIFFERENCES[
        "default_context_flags"]
    for side in {row[0] for row in test_endpoint.PSK_313}:
        marked["set_psk_%s_callback" % side] = not test_endpoint.PY313
    for curve in test_endpoint.CURVES:
        if isinstance(curve, str) and (curve in ROWS or curve in test_endpoint.OLD_STDLIB_ECDH):
            marked[curve] = curve in test_endpoint.OLD_STDLIB_ECDH
    assert {"X25519", "X448", "RSA"} <= set(marked)
    for entry, differs in marked.items():
        assert entry in ROWS, "docs/differences.md has no row for %r" % entry
        says = cell_says_differs(ROWS[entry][RUNNING], sys.version_info)
        assert says in (None, differs), entry


@pytest.mark.parametrize("entry", sorted(set(test_certificates.TLSCTX_DIVERGENCES)
                                         | set(test_trust_cache.HALF_APPLIED_BY_STDLIB)
                                         | set(test_endpoint.DELETABLE)))
def test_deliberate_difference_is_documented(entry):
    assert "`%s`" % entry in DIFFERENCES


@pytest.mark.parametrize("name", sorted(test_modern_api.NEEDS_OPENSSL))
def test_openssl_requirements_of_the_315_api_are_documented(name):
    needs = "OpenSSL %d.%d" % test_modern_api.NEEDS_OPENSSL[name]
    text = (DOCS / "differences-3.15.md").read_text()
    assert any("`%s(" % name in line and needs in line for line in text.splitlines()), (name, needs)


# ---- README ------------------------------------------------------------------------------

README = (ROOT / "README.md").read_text()


def test_readme_keeps_the_two_setup_commands():
    # .ci/run finds the second one with sed; both are indented code lines
    assert "\n    python -m pip install -e . && python -m tlsctx\n" in README
    assert '\n    python -m pip install -e ".[test]" && python -m pytest\n' in README


def test_readme_example_runs(capsys):
    example = re.search(r"```python\n(.*?)```", README, re.S).group(1)
    assert "import tlsctx as ssl" in example
    exec(compile(example, "README.md", "exec"), {"__name__": "readme_example"})
    printed = capsys.readouterr().out
    assert printed.strip()
