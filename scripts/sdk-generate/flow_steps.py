"""What the Python flows share: the 24 steps of FLOW.md, in order, and the runner that prints
`ok <n> <step>` or `FAIL <n> <step>: <why>` for each, then `passed <n> of 24`."""

from typing import Callable, cast

# Each step of FLOW.md, in order, and the function that does it in every flow.
STEPS = {
    "createApp": "create", "getApp": "get", "issueToken": "issue", "verifyToken": "verify",
    "refreshToken": "refresh", "getTokenInfo": "info", "listProviders": "providers",
    "getProviderEndpoints": "endpoints", "proxyPost": "proxy", "createSplitKey": "split",
    "listSplitKeys": "listed", "getSplitKey": "got", "validateSplitKey": "validated",
    "rotateSplitKey": "rotated", "deleteSplitKey": "deleted", "getMyQuota": "quota",
    "getAnalyticsOverview": "overview", "getAnalyticsCosts": "costs", "createIPRule": "rule",
    "deleteIPRule": "unrule", "listAuditLogs": "audit", "verifyAuditLog": "chain",
    "badToken": "bad_token", "providerError": "provider_error",
}


def run(flow: dict[str, object]) -> int:
    """Runs every step in FLOW.md's order with the flow's function for it (`run(globals())`; a
    returned text is why it failed; a crash of the client is a failed step, not a failed flow);
    the exit code: 0 when all passed."""
    steps: dict[str, Callable[[], str | None]] = {}
    for name, function in STEPS.items():
        step = flow.get(function)
        if not callable(step):
            raise SystemExit(f"the flow has no function {function}() for the step {name} of FLOW.md")
        steps[name] = cast(Callable[[], "str | None"], step)
    passed = 0
    for number, name in enumerate(STEPS, start=1):
        try:
            failure = steps[name]()
        except Exception as error:
            failure = f"{type(error).__name__}: {str(error)[:300]}"
        if failure is None:
            passed += 1
            print(f"ok {number} {name}")
        else:
            print(f"FAIL {number} {name}: {failure}")
    print(f"passed {passed} of {len(STEPS)}")
    return 0 if passed == len(STEPS) else 1
