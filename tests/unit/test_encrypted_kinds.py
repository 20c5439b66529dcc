"""Key rotation cannot forget a kind of encrypted record: every envelope field of every document,
and every place outside :mod:`metasync.crypto` that encrypts or decrypts, belongs to a kind of
``ENCRYPTED_KINDS``, the list ``metasync keys rotate`` works through."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from mongoengine import StringField
from mongoengine.base.common import _document_registry

import metasync
from metasync.models import ALL_DOCUMENTS, ENCRYPTED_KINDS

PACKAGE = Path(metasync.__file__).parent
# The cipher itself, and the rotation that re-seals whatever the kinds list.
CIPHER_MODULES = {PACKAGE / "crypto.py", PACKAGE / "models" / "encrypted.py"}
CIPHER_CALLS = {"encrypt", "decrypt", "reencrypt"}


def registered_fields() -> dict[Path, set[str]]:
    """{module defining a kind's document: its envelope fields}."""
    fields: dict[Path, set[str]] = {}
    for kind in ENCRYPTED_KINDS:
        module = Path(inspect.getfile(kind.document))
        fields.setdefault(module, set()).add(kind.field)
    return fields


def test_every_kind_names_a_stored_string_field_of_a_known_document() -> None:
    assert len({kind.name for kind in ENCRYPTED_KINDS}) == len(ENCRYPTED_KINDS)
    for kind in ENCRYPTED_KINDS:
        assert kind.document in ALL_DOCUMENTS, kind.name
        fields = kind.document._fields
        assert isinstance(fields.get(kind.field), StringField), kind.name
        for name in (*kind.reads, *([kind.key_id_field] if kind.key_id_field else [])):
            assert name in fields, f"{kind.name}: {kind.document.__name__} has no {name}"


def test_every_envelope_field_of_every_document_is_a_kind() -> None:
    documents = {
        cls
        for cls in (*ALL_DOCUMENTS, *_document_registry.values())
        if cls.__module__.startswith("metasync.") and not cls._meta.get("abstract")
    }
    envelopes = {
        (cls.__name__, name)
        for cls in documents
        for name in cls._fields
        if name.endswith("_envelope")
    }
    assert envelopes  # the scan sees the fields it checks
    assert envelopes == {(kind.document.__name__, kind.field) for kind in ENCRYPTED_KINDS}


def test_only_the_kinds_modules_encrypt_and_only_into_their_envelope_fields() -> None:
    allowed = registered_fields()
    offenders = []
    seen = 0
    for path in sorted(PACKAGE.rglob("*.py")):
        if path in CIPHER_MODULES:
            continue
        for call, field in cipher_calls(ast.parse(path.read_text(), filename=str(path))):
            seen += 1
            if field is None or field not in allowed.get(path, set()):
                where = f"{path.relative_to(PACKAGE.parent)}:{call.lineno}"
                offenders.append(f"{where} ({field or 'not an envelope field'})")
    assert seen >= 4  # the connection's and the destination's encrypt and decrypt
    assert not offenders, f"encrypted data outside ENCRYPTED_KINDS: {offenders}"


def test_the_scan_catches_an_encrypt_outside_the_kinds() -> None:
    source = (
        "def seal(cipher, hook, secret):\n"
        "    hook.secret_envelope = cipher.encrypt(secret, 'id')\n"
        "    return cipher.encrypt(secret, 'id'), cipher.decrypt(hook.secret_envelope, 'id')\n"
    )
    fields = [field for _, field in cipher_calls(ast.parse(source))]
    assert sorted(fields, key=str) == [None, "secret_envelope", "secret_envelope"]
    assert "secret_envelope" not in {kind.field for kind in ENCRYPTED_KINDS}


def cipher_calls(tree: ast.AST) -> list[tuple[ast.Call, str | None]]:
    """Every ``encrypt``, ``decrypt`` and ``reencrypt`` call in ``tree``, each with the envelope
    field it writes (``self.<field> = cipher.encrypt(...)``) or reads (``cipher.decrypt(
    self.<field>, ...)``), or None when it is neither shape."""
    written: dict[int, str | None] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and cipher_call(node.value) is not None:
            target = node.targets[0]
            written[id(node.value)] = target.attr if isinstance(target, ast.Attribute) else None
    found: list[tuple[ast.Call, str | None]] = []
    for node in ast.walk(tree):
        call = cipher_call(node)
        if call is None:
            continue
        assert isinstance(call.func, ast.Attribute)
        if call.func.attr == "encrypt":
            found.append((call, written.get(id(call))))
        else:
            first = call.args[0] if call.args else None
            found.append((call, first.attr if isinstance(first, ast.Attribute) else None))
    return found


def cipher_call(node: ast.AST) -> ast.Call | None:
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in CIPHER_CALLS
    ):
        return node
    return None
