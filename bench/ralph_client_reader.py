"""Read every statement of an LRS with Ralph's own LRS client; run under Ralph's venv.

The reference side of `bench_xapi_pull`: `ralph.backends.data.lrs.LRSDataBackend.read()`
(httpx, Basic auth, follows `more`), in a process of its own because Ralph pins its own
pydantic. A line protocol keeps one process for all the runs, so interpreter start-up and
imports are measured once, apart from the reads:

- stdin: one JSON object first (`base_url`, `username`, `password`, `chunk_size`), then one
  line per read (`read`); end of input stops the process.
- stdout: one JSON object per line: `{"ready": ...}` with the start-up figures (imports, then
  one backend built and closed), then one object per read: statements, distinct ids, HTTP
  requests, a digest of the sorted ids, wall and CPU seconds of this process.

Each read builds its backend afresh, as the other side builds its client, and counts requests
with an httpx event hook. Anything Ralph prints goes to stderr; stdout carries only the lines.
"""

import time

STARTED_WALL, STARTED_CPU = time.perf_counter(), time.process_time()

import hashlib  # noqa: E402 - imports are part of what is timed
import json  # noqa: E402
import sys  # noqa: E402
from importlib import metadata  # noqa: E402

from ralph.backends.data.lrs import LRSDataBackend, LRSDataBackendSettings  # noqa: E402

IMPORTED_WALL, IMPORTED_CPU = time.perf_counter(), time.process_time()


def backend(config: dict) -> LRSDataBackend:
    settings = LRSDataBackendSettings(
        BASE_URL=config["base_url"],
        USERNAME=config["username"],
        PASSWORD=config["password"],
        STATEMENTS_ENDPOINT="/xAPI/statements",
    )
    return LRSDataBackend(settings)


def digest(ids: list) -> str:
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()


def read_all(config: dict) -> dict:
    wall, cpu = time.perf_counter(), time.process_time()
    lrs = backend(config)
    requests = []
    lrs.client.event_hooks = {"request": [requests.append], "response": []}
    try:
        ids = [statement["id"] for statement in lrs.read(chunk_size=config["chunk_size"])]
    finally:
        lrs.close()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {
        "statements": len(ids),
        "distinct": len(set(ids)),
        "requests": len(requests),
        "digest": digest(ids),
        "wall": wall,
        "cpu": cpu,
    }


def main() -> int:
    out, sys.stdout = sys.stdout, sys.stderr  # only the protocol lines go to stdout
    config = json.loads(sys.stdin.readline())
    built_wall, built_cpu = time.perf_counter(), time.process_time()
    backend(config).client.close()
    done_wall, done_cpu = time.perf_counter(), time.process_time()
    ready = {
        "ready": True,
        "import_wall": IMPORTED_WALL - STARTED_WALL,
        "import_cpu": IMPORTED_CPU - STARTED_CPU,
        "construct_wall": done_wall - built_wall,
        "construct_cpu": done_cpu - built_cpu,
        "process_cpu": done_cpu,  # the interpreter's own start-up included
        "python": sys.version.split()[0],
        "ralph": metadata.version("ralph-malph"),
    }
    print(json.dumps(ready), file=out, flush=True)
    for line in sys.stdin:
        if line.strip() == "read":
            print(json.dumps(read_all(config)), file=out, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
