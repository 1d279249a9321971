"""How fast the lin-kv checker judges a history, over the number of concurrent clients.

Each history is made by a real register store: CLIENTS clients each issue reads, writes and cas
(half reads, a quarter each of the others) back to back over KEYS keys with values 0-4, as Maelstrom's
lin-kv workload does; each operation lasts 1-5 ms and takes effect at a random instant inside its
interval, in the order of those instants. A share INFO of the writes and cas time out (info, 50 ms
later), half of them having taken effect. Every history is linearizable by construction, so each run
also checks that the verdict is True.

The baseline, in the same run, is a history of the same size from a single client: its operations do
not overlap, so the search never branches; the ratio is what concurrency costs. Cells read
`median (min-max)` over --repeat runs.

Run: python bench/checkers.py [--ops 10000] [--keys 10] [--clients 1,3,5,10] [--info 0.01] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any

from _common import console, machine_line, make_table, ratio, spread

from netsim.workloads.checkers import check_lin_kv
from netsim.workloads.history import Op

MS = 1_000_000


def register_history(ops: int, keys: int, clients: int, info: float, seed: int) -> list[Op]:
    rng = random.Random(seed)
    planned = []  # (effect instant, client, start, end, f, key, argument)
    clock = dict.fromkeys(range(clients), 0)
    for position in range(ops):
        client = position % clients
        start = clock[client]
        duration = rng.randint(1 * MS, 5 * MS)
        clock[client] = start + duration + rng.randint(0, MS // 10)
        f = rng.choice(("read", "read", "write", "cas"))
        argument: Any = rng.randint(0, 4) if f == "write" else [rng.randint(0, 4), rng.randint(0, 4)]
        planned.append(
            (
                start + rng.randint(0, duration),
                client,
                start,
                start + duration,
                f,
                rng.randrange(keys),
                argument,
            )
        )
    planned.sort()
    state: dict[int, int] = {}
    history = []
    for _, client, start, end, f, key, argument in planned:
        fields: dict[str, Any] = {"type": "ok", "result": None, "error": None}
        if f == "read":
            if key in state:
                fields["result"] = [key, state[key]]
            else:
                fields.update(type="fail", error={"code": 20})
            value: Any = [key, None]
        else:
            value = [key, argument]
            timed_out = rng.random() < info
            if f == "cas" and state.get(key) != argument[0]:
                fields.update(type="fail", error={"code": 20 if key not in state else 22})
            elif not timed_out or rng.random() < 0.5:
                state[key] = argument if f == "write" else argument[1]
            if timed_out and fields["type"] == "ok":
                fields["type"] = "info"
                end = start + 50 * MS
        history.append((start, end, client, f, value, fields))
    history.sort(key=lambda entry: entry[0])
    return [
        Op(index, f"c{client}", "n1", f, value, invoke_ns=start, complete_ns=end, **fields)
        for index, (start, end, client, f, value, fields) in enumerate(history)
    ]


def measure(history: list[Op]) -> tuple[float, int]:
    began = time.perf_counter()
    verdict = check_lin_kv(history, ["n1"])
    elapsed = time.perf_counter() - began
    assert verdict.valid is True, verdict
    return elapsed, verdict.details["states_explored"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=10_000)
    parser.add_argument("--keys", type=int, default=10)
    parser.add_argument("--clients", default="1,3,5,10")
    parser.add_argument("--info", type=float, default=0.01)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    rows = []
    baseline = spread(
        [
            measure(register_history(options.ops, options.keys, 1, options.info, seed))[0]
            for seed in range(options.repeat)
        ],
        float,
    )
    for clients in (int(count) for count in options.clients.split(",")):
        samples = [
            measure(register_history(options.ops, options.keys, clients, options.info, seed))
            for seed in range(options.repeat)
        ]
        seconds = spread(samples, lambda sample: sample[0])
        rate = spread(samples, lambda sample: options.ops / sample[0])
        rows.append(
            (
                str(clients),
                f"{seconds.format(0, 1000)} ms",
                rate.format(),
                f"{max(sample[1] for sample in samples):,}",
                ratio(seconds.median, baseline.median),
            )
        )
    console().print(
        make_table(
            f"lin-kv checker: {options.ops:,} ops over {options.keys} keys,"
            f" {options.info:.0%} of writes and cas info",
            ("clients", "check time", "ops/s", "configurations", "vs 1 client"),
            rows,
            caption=f"1 client (baseline): {baseline.median * 1000:,.0f} ms. {machine_line()}",
        )
    )


if __name__ == "__main__":
    main()
