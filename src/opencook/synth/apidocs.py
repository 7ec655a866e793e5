"""The current API of installed libraries, read with ``inspect`` (what ``pydoc`` shows): one entry per public
function or class, with its signature and the first paragraph of its docstring."""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class ApiDoc:
    module: str
    name: str  # qualified: json.dumps
    signature: str
    doc: str
    version: str  # the distribution's version, or Python's for the standard library


def module_version(module: str) -> str:
    top = module.split(".")[0]
    if top in sys.stdlib_module_names:
        return f"python-{sys.version.split()[0]}"
    try:
        return importlib.metadata.version(top)
    except importlib.metadata.PackageNotFoundError:
        return str(getattr(sys.modules.get(top), "__version__", "unknown"))


def api_docs(module: str, max_items: int = 20, max_doc_chars: int = 600) -> list[ApiDoc]:
    """Public, documented functions and classes defined in ``module`` (its ``__all__`` when it has one), in
    name order, at most ``max_items``."""
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise ValueError(f"package-instruct: cannot import module {module!r} ({exc}); install it or drop it "
                         "from --modules") from None
    names = getattr(mod, "__all__", None) or [n for n in dir(mod) if not n.startswith("_")]
    version = module_version(module)
    docs = []
    for name in sorted(names):
        obj = getattr(mod, name, None)
        if not (inspect.isfunction(obj) or inspect.isclass(obj) or inspect.isbuiltin(obj)):
            continue
        if not str(getattr(obj, "__module__", "")).startswith(module.split(".")[0]):
            continue  # re-exported from elsewhere
        doc = inspect.getdoc(obj) or ""
        if not doc:
            continue
        try:
            sig = f"{name}{inspect.signature(obj)}"
        except (TypeError, ValueError):
            sig = name
        para = doc.split("\n\n")[0][:max_doc_chars]
        docs.append(ApiDoc(module, f"{module}.{name}", f"{module}.{sig}", para, version))
        if len(docs) >= max_items:
            break
    if not docs:
        raise ValueError(f"package-instruct: module {module!r} has no documented public functions or classes")
    return docs
