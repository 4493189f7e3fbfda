"""One run of the taint module in a process of its own, as a task runs it, with a clock on each phase.

Started by task_profile.py, which passes the module's AnsiballZ payload (a zip, put first on
sys.path as Ansible's wrapper puts it, so everything is imported from it and compiled from source
as in a task) and the module arguments on stdin. Prints one JSON line: when the process started,
when it finished, the seconds spent in each phase and the module's result.

Only ``sys``, ``time`` and ``json`` are imported before the clock starts; the module's own imports
are measured as they happen.
"""

import json
import sys
import time

STARTED = time.time()
clock = time.perf_counter
spent: dict[str, float] = {}


def add(phase: str, seconds: float) -> None:
    spent[phase] = spent.get(phase, 0.0) + seconds


def clocked(owner, name: str, phase):
    """Wrap ``owner.name`` so the time spent in it is added to ``phase`` (a name, or a function of the call)."""
    original = getattr(owner, name, None)
    if original is None:  # the module's internals moved: say where the profile needs updating
        sys.exit(f"_profile_child.py: {getattr(owner, '__name__', owner)} has no {name} to time any more")

    def wrapper(*args, **kwargs):
        start = clock()
        try:
            return original(*args, **kwargs)
        finally:
            add(phase(*args) if callable(phase) else phase, clock() - start)

    setattr(owner, name, wrapper)


def main() -> None:
    payload, arguments = sys.argv[1], sys.stdin.read()
    here = sys.path[0]
    # As Ansible's wrapper does: not the script's directory, the payload first.
    sys.path = [payload] + [p for p in sys.path if p not in ("", ".", here)]

    start = clock()
    from ansible.module_utils import basic
    add("import_runtime", clock() - start)
    start = clock()
    from ansible_collections.kubeops.platform.plugins.modules import taint
    add("import_module", clock() - start)

    import io
    import socket

    from ansible_collections.kubeops.platform.plugins.module_utils import _client, _module

    clocked(basic.AnsibleModule, "__init__", "arguments")
    clocked(basic.AnsibleModule, "exit_json", "exit_json")
    clocked(basic.AnsibleModule, "fail_json", "exit_json")
    clocked(_module, "resolve_connection", "kubeconfig")
    clocked(_client.HttpTransport, "__init__", "tls_context")
    clocked(_client.HttpTransport, "_connect", "connect")
    clocked(socket, "create_connection", "tcp")

    request = _client.HttpTransport.request

    def timed_request(transport, method, *args, **kwargs):
        # The request's own time, without the connection it may have opened first.
        connected, start = spent.get("connect", 0.0), clock()
        try:
            return request(transport, method, *args, **kwargs)
        finally:
            add(f"request_{method}", clock() - start - (spent.get("connect", 0.0) - connected))

    _client.HttpTransport.request = timed_request

    # What the wrapper's loader does before it runs the module as __main__.
    basic._ANSIBLE_ARGS = arguments.encode()
    basic._ANSIBLE_PROFILE = "legacy"
    output, stdout = io.StringIO(), sys.stdout
    sys.stdout = output
    start = clock()
    try:
        taint.main()
    except SystemExit:
        pass
    finally:
        sys.stdout = stdout
    add("main", clock() - start)
    try:
        result = json.loads(output.getvalue())
    except ValueError:
        result = {"failed": True, "msg": f"the module printed no JSON result: {output.getvalue()[-500:]!r}"}
    print(json.dumps({"started": STARTED, "finished": time.time(), "spent": spent,
                      "result": {key: result.get(key) for key in ("changed", "failed", "msg", "results")}}))


if __name__ == "__main__":
    main()
