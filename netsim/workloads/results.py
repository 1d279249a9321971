"""After a workload's run: its history in one file, the checker's verdict, and the figures.

The clients' history parts (``history/c1.jsonl`` ...) are merged by time into ``history.jsonl``; each
invocation is paired with its completion (a client has one operation outstanding at a time, so a
client's lines alternate); the workload's checker judges the operations; ``results.json`` holds the
verdict, the counts, the latencies and msgs-per-op: the messages server nodes sent each other (clients
and services not counted) per client operation, the figure Gossip Glomers' targets are stated in.
"""

from __future__ import annotations

import functools
import heapq
import importlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from netsim.runs.layout import HISTORY_DIR_NAME, HISTORY_FILE_NAME, RESULTS_FILE_NAME
from netsim.workloads.history import COMPLETIONS, INVOKE, Op, Verdict


def merge_history(run_dir: Path) -> Path:
    """Merge the clients' parts into ``history.jsonl`` (by time, then client) and remove the parts."""
    parts_dir = run_dir / HISTORY_DIR_NAME
    parts = sorted(parts_dir.glob("*.jsonl")) if parts_dir.is_dir() else []
    streams = [_records(part) for part in parts]
    out = run_dir / HISTORY_FILE_NAME
    with open(out, "wb") as history:
        for index, (_, _, record) in enumerate(heapq.merge(*streams, key=lambda item: item[:2])):
            history.write(orjson.dumps({"index": index, **record}, option=orjson.OPT_APPEND_NEWLINE))
    for part in parts:
        part.unlink()
    if parts_dir.is_dir() and not any(parts_dir.iterdir()):
        parts_dir.rmdir()
    return out


def _records(part: Path) -> Iterator[tuple[int, str, dict[str, Any]]]:
    with open(part, "rb") as lines:
        for line in lines:
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # a client killed mid-line: the rest of its part is still read
            if isinstance(record, dict) and isinstance(record.get("time_ns"), int):
                yield record["time_ns"], str(record.get("process")), record


def read_ops(history_path: Path) -> list[Op]:
    """The operations of ``history.jsonl``, in invocation order; an invocation without a completion
    (its client died) is ``info`` at the end of the history."""
    open_ops: dict[str, dict[str, Any]] = {}
    done: list[Op] = []
    last_ns = 0
    with open(history_path, "rb") as lines:
        for line in lines:
            record = orjson.loads(line)
            last_ns = max(last_ns, record["time_ns"])
            process = record["process"]
            if record["type"] == INVOKE:
                open_ops[process] = record
            elif record["type"] in COMPLETIONS and process in open_ops:
                done.append(_op(open_ops.pop(process), record))
    for invoke in open_ops.values():
        done.append(_op(invoke, {"type": "info", "time_ns": last_ns, "value": invoke["value"]}))
    done.sort(key=lambda op: op.index)
    return done


def _op(invoke: dict[str, Any], completion: dict[str, Any]) -> Op:
    ok = completion["type"] == "ok"
    return Op(
        index=invoke["index"],
        process=invoke["process"],
        node=invoke["node"],
        f=invoke["f"],
        value=invoke["value"],
        type=completion["type"],
        result=completion.get("value") if ok else None,
        invoke_ns=invoke["time_ns"],
        complete_ns=completion["time_ns"],
        error=completion.get("error"),
        final=bool(invoke.get("final")),
        request=invoke.get("request"),
        reply=completion.get("reply"),
    )


def load_checker(spec: str | Callable[..., Any]) -> tuple[str, Callable[[list[Op], Path], Any]]:
    """A user's checker (``--checker module:function``, or the function itself) and its name: called
    with the operations and the trace's path, it returns a ``Verdict`` or a dict with ``valid`` and
    ``explanation``."""
    from netsim.errors import OptionError

    if callable(spec):
        name = f"{getattr(spec, '__module__', None) or '?'}:{getattr(spec, '__qualname__', None) or spec!r}"
        return name, spec
    if not isinstance(spec, str):
        raise OptionError(
            f"checker {spec!r} is neither a function nor a module:function spec",
            hint="pass a function, or a string such as 'mychecks:check_bank'",
        )
    module_name, _, function_name = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
        checker = getattr(module, function_name)
    except (ImportError, AttributeError, ValueError) as error:
        raise OptionError(
            f"--checker {spec!r} cannot be loaded: {error}", hint="give module:function"
        ) from None
    except Exception as error:  # noqa: BLE001 - the user's module failed on import: say so, in one line
        raised = f"{type(error).__name__}: {error}"
        what = f"--checker {spec!r} cannot be loaded: importing {module_name} raised {raised}"
        raise OptionError(what) from None
    if not callable(checker):
        raise OptionError(f"--checker {spec!r} is not a function")
    return spec, checker


def server_messages(trace_path: Path, servers: list[str]) -> int:
    """Messages the server nodes sent each other (not to clients or services; netsim's own hellos not
    counted): every send of a message, forwarded hops included."""
    from netsim.trace.reader import iter_events
    from netsim.trace.records import is_control
    from netsim.trace.schema import SEND_EVENTS

    names = set(servers)
    total = 0
    for event in iter_events(trace_path, strict=False):
        if (
            event["event"] in SEND_EVENTS
            and event["node"] in names
            and event.get("peer") in names
            and not is_control(event.get("msg_type"))
        ):
            total += 1
    return total


def judge(
    run_dir: Path,
    workload: str,
    servers: list[str],
    *,
    extra_checkers: Sequence[str | Callable[..., Any]] = (),
) -> dict[str, Any]:
    """Merge the history, check it, write ``results.json``; returns what the summary's ``workload`` holds."""
    from netsim.workloads.checkers import CHECKERS, common_stats

    history = merge_history(run_dir)
    ops = read_ops(history)
    checks: dict[str, Verdict] = {}
    checks[workload] = _guarded(lambda: CHECKERS[workload](ops, servers))
    trace = run_dir / "trace.jsonl"
    for spec in extra_checkers:
        name, checker = load_checker(spec)
        checks[name] = _guarded(functools.partial(checker, ops, trace))
    invoked = sum(1 for op in ops if not op.final)
    messages = server_messages(run_dir / "trace.jsonl", servers)
    valid = _combined(verdict.valid for verdict in checks.values())
    explanation = next(
        (f"{name}: {verdict.explanation}" for name, verdict in checks.items() if verdict.valid is not True),
        None,
    )
    results: dict[str, Any] = {
        "workload": workload,
        "valid": valid,
        "ops": invoked,
        **({"explanation": explanation} if explanation else {}),
        "stats": common_stats(ops),
        "msgs_per_op": round(messages / invoked, 3) if invoked else None,
        "server_messages": messages,
        "checkers": {
            name: {"valid": verdict.valid, "explanation": verdict.explanation, "details": verdict.details}
            for name, verdict in checks.items()
        },
    }
    (run_dir / RESULTS_FILE_NAME).write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    summary = {key: results[key] for key in ("workload", "valid", "ops", "msgs_per_op")}
    if explanation:
        summary["explanation"] = explanation
    summary["stats"] = results["stats"]
    return summary


def _guarded(check: Callable[[], Any]) -> Verdict:
    """``check()``'s verdict; a checker that raises or returns something else gives "unknown"."""
    try:
        verdict = check()
    except Exception as error:  # noqa: BLE001 - a checker's bug is the verdict "unknown", not a crash
        return Verdict("unknown", f"the checker failed: {type(error).__name__}: {error}")
    if isinstance(verdict, dict) and verdict.get("valid") in (True, False, "unknown"):
        # A user's checker may answer with a plain dict.
        return Verdict(verdict["valid"], verdict.get("explanation"), dict(verdict.get("details") or {}))
    if not isinstance(verdict, Verdict):
        return Verdict("unknown", f"the checker returned {type(verdict).__name__}, not a Verdict")
    return verdict


def _combined(values: Any) -> bool | str:
    values = list(values)
    if any(value is False for value in values):
        return False
    if all(value is True for value in values):
        return True
    return "unknown"
