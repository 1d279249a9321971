"""Turn an app name or ``module:Class`` (or ``path/to/file.py:Class``) into an App subclass."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from pathlib import Path

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


# What each spec resolved to in this process: the fork server resolves a run's apps once, and every
# node it forks finds its class here rather than resolving a path again.
_resolved: dict[str, type[App]] = {}


def resolve_app(spec: str) -> type[App]:
    """The App class ``spec`` names; raises AppError saying what to fix."""
    app_class = _resolved.get(spec)
    if app_class is None:
        app_class = _resolved[spec] = _resolve(spec)
    return app_class


def _resolve(spec: str) -> type[App]:
    if spec in BUILTIN_APP_NAMES:
        return _builtin(spec)
    module_name, sep, class_name = spec.rpartition(":")
    if not sep or not module_name or not class_name:
        raise AppError(
            f"unknown app {spec!r}",
            hint=f"use a built-in app ({', '.join(BUILTIN_APP_NAMES)}) or your own as module:Class",
        )
    module = _import(spec, module_name)
    app_class = getattr(module, class_name, None)
    if app_class is None:
        raise AppError(f"app {spec!r}: module {module_name!r} has no attribute {class_name!r}")
    if not (isinstance(app_class, type) and issubclass(app_class, App)):
        raise AppError(
            f"app {spec!r}: {class_name} is not a subclass of netsim.App",
            hint="define it as `class MyApp(netsim.App):` with on_start / on_message callbacks",
        )
    return app_class


def _import(spec: str, module_name: str) -> object:
    if module_name.endswith(".py"):
        path = Path(module_name)
        if not path.is_file():
            raise AppError(f"app {spec!r}: no such file {module_name!r}")
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
            raise AppError(
                f"app {spec!r}: importing {module_name} raised {type(error).__name__}: {error}"
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
            f"app {spec!r}: importing {module_name} raised {type(error).__name__}: {error}"
        ) from error
