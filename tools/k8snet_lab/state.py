"""Where the lab keeps its state (/var/lib/k8snet-lab) and how it is read and written under locks."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os

from .constants import COMMAND_LOCK, LOCK_FILE, STATE_DIR, STATE_FILE
from .util import LabError

# ---------------------------------------------------------------- state file

def read_state() -> dict:
    try:
        return json.loads(STATE_FILE.read_text())
    except (OSError, ValueError):
        return {}


def write_state(state: dict) -> None:
    tmp = STATE_FILE.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, STATE_FILE)


@contextlib.contextmanager
def locked_state():
    """Read-modify-write the state under a lock: the create process and every supervisor write it."""
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    with open(LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = read_state()
        yield state
        write_state(state)


@contextlib.contextmanager
def command_lock():
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    with open(COMMAND_LOCK, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LabError("another tools/lab.py create/destroy/restart is running; wait for it") from None
        yield


def record(kind: str, item: str) -> None:
    """Note an item BEFORE creating it, so a crash in between still leaves a record for destroy."""
    with locked_state() as state:
        items = state.setdefault(kind, [])
        if item not in items:
            items.append(item)


def require_lab() -> dict:
    state = read_state()
    if not state.get("nodes"):
        raise LabError("no lab is up: tools/lab.py create")
    return state


def node_config(state: dict, node: str) -> dict:
    if node not in state.get("nodes", {}):
        raise LabError(f"no node {node!r} in the lab (nodes: {', '.join(state.get('nodes', {})) or 'none'})")
    return state["nodes"][node]


