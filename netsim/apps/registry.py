"""Turn an app name or ``module:Class`` (or ``path/to/file.py:Class``) into what a node runs: an App
subclass, or a socket program's ``main(net)`` function (``module:function``, ``file.py:main``)."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Union

from netsim.errors import AppError
from netsim.runtime.app import App
from netsim.vocabulary import BUILTIN_APP_NAMES


def _builtin(name: str) -> type[App]:
    if name == "echo":
        from netsim.apps.echo import EchoApp

        return EchoApp
    if name == "flood":
        from netsim.apps.flood import FloodApp

        return FloodApp
    from netsim.apps.gossip import GossipApp

    return GossipApp


# A node's program: an App subclass (callbacks on netsim's event loop) or main(net) (its own sockets).
AppTarget = Union[type[App], Callable[..., Any]]  # noqa: UP007 - a runtime alias: 3.10 has no type[X] | Y

# What each spec resolved to in this process: the fork server resolves a run's apps once, and every
# node it forks finds its class here rather than resolving a path again.
_resolved: dict[str, AppTarget] = {}


def resolve_app(spec: str) -> AppTarget:
    """The App class or ``main`` function ``spec`` names; raises AppError saying what to fix."""
    app_class = _resolved.get(spec)
    if app_class is None:
        app_class = _resolved[spec] = _resolve(spec)
    return app_class


def is_socket_program(target: AppTarget) -> bool:
    """Whether ``target`` is a socket program's ``main(net)`` rather than an App class."""
    return not isinstance(target, type)


def app_spec(target: AppTarget) -> str:
    """The spec that names ``target`` (an App subclass or a function) for the nodes' fork server,
    which imports it afresh: it must be defined at the top level of a module or of a script file."""
    module_name = getattr(target, "__module__", None)
    qualname = getattr(target, "__qualname__", None)
    if not (isinstance(target, type) and issubclass(target, App)) and not _is_function(target):
        raise AppError(
            f"app {target!r} is neither a subclass of netsim.App nor a function main(net)",
            hint="pass an App class, a function, or a spec such as module:Class or file.py:main",
        )
    if not module_name or not qualname or "<locals>" in qualname or "<lambda>" in qualname:
        raise AppError(
            f"app {qualname or target!r} is defined inside a function: every node imports its app afresh",
            hint="define it at the top level of a module (or pass 'file.py:name')",
        )
    module = sys.modules.get(module_name)
    if module_name == "__main__" or module_name.startswith("netsim_user_app_"):
        path = getattr(module, "__file__", None)
        if not path:
            raise AppError(
                f"app {qualname} is defined in an interactive session: every node imports its app afresh",
                hint="put it in a file and pass 'file.py:name'",
            )
        spec = f"{path}:{qualname}"
    else:
        spec = f"{module_name}:{qualname}"
    # This process resolves the spec to the object itself; the fork server imports it by name.
    _resolved.setdefault(spec, target)
    return spec


def _is_function(target: object) -> bool:
    return callable(target) and not isinstance(target, type)


def _resolve(spec: str) -> AppTarget:
    if spec in BUILTIN_APP_NAMES:
        return _builtin(spec)
    module_name, sep, class_name = spec.rpartition(":")
    if not sep or not module_name or not class_name:
        raise AppError(
            f"unknown app {spec!r}",
            hint=f"use a built-in app ({', '.join(BUILTIN_APP_NAMES)}) or your own as module:Class",
        )
    module = _import(spec, module_name)
    app_class: Any = module
    for part in class_name.split("."):
        app_class = getattr(app_class, part, None)
        if app_class is None:
            raise AppError(
                f"app {spec!r}: module {module_name!r} has no attribute {class_name!r}",
                hint=_what_it_defines(module),
            )
    if _is_function(app_class):
        return app_class  # a socket program's main(net)
    if not (isinstance(app_class, type) and issubclass(app_class, App)):
        raise AppError(
            f"app {spec!r}: {class_name} is neither a subclass of netsim.App nor a function main(net)",
            hint="define `class MyApp(netsim.App):` with on_start / on_message callbacks, "
            "or a socket program `def main(net):`",
        )
    return app_class


def _import(spec: str, module_name: str) -> object:
    if module_name.endswith(".py"):
        path = Path(module_name)
        if not path.is_file():
            raise AppError(
                f"app {spec!r}: no such file {module_name!r}",
                hint=f"give the file's path from this directory ({os.getcwd()}), or an absolute one",
            )
        # Keyed by the absolute path: loaded once in the launcher, and inherited by forked nodes.
        resolved = path.resolve()
        module_name = (
            f"netsim_user_app_{resolved.stem}_{hashlib.sha1(str(resolved).encode()).hexdigest()[:10]}"
        )
        if module_name in sys.modules:
            return sys.modules[module_name]
        import_spec = importlib.util.spec_from_file_location(module_name, resolved)
        if import_spec is None or import_spec.loader is None:
            raise AppError(f"app {spec!r}: cannot load {module_name!r} as a Python module")
        module = importlib.util.module_from_spec(import_spec)
        sys.modules[import_spec.name] = module
        try:
            import_spec.loader.exec_module(module)
        except Exception as error:
            del sys.modules[import_spec.name]  # half run: not to be found again as if it had loaded
            raised = f"{type(error).__name__}: {error}"
            raise AppError(
                f"app {spec!r}: importing {path} raised {raised}",
                hint=f"fix that in {path} (`python {path}` shows the whole traceback)",
            ) from error
        return module
    # Like other runners (uvicorn, gunicorn), find the user's modules in the working directory.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        raise AppError(
            f"app {spec!r}: no module named {error.name!r}",
            hint="run netsim from the directory that holds your module, or pass path/to/file.py:Class",
        ) from error
    except Exception as error:
        raise AppError(
            f"app {spec!r}: importing {module_name} raised {type(error).__name__}: {error}",
            hint=f"fix that in the module (`python -c 'import {module_name}'` shows the whole traceback)",
        ) from error


def _what_it_defines(module: object) -> str:
    """The apps and functions a module defines, for the hint of a name it lacks."""
    names = [
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and getattr(value, "__module__", None) == getattr(module, "__name__", None)
        and ((isinstance(value, type) and issubclass(value, App)) or _is_function(value))
    ]
    if not names:
        return "after ':' give an App subclass or a function main(net) that the module defines"
    shown = ", ".join(sorted(names)[:8]) + (" ..." if len(names) > 8 else "")
    return f"it defines: {shown}"
