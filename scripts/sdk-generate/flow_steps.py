"""What the Python flows share: the 24 steps of FLOW.md, in order, and the runner that prints
`ok <n> <step>` or `FAIL <n> <step>: <why>` for each, then `passed <n> of 24`."""

from typing import Callable

STEPS = [
    "createApp", "getApp", "issueToken", "verifyToken", "refreshToken", "getTokenInfo", "listProviders",
    "getProviderEndpoints", "proxyPost", "createSplitKey", "listSplitKeys", "getSplitKey", "validateSplitKey",
    "rotateSplitKey", "deleteSplitKey", "getMyQuota", "getAnalyticsOverview", "getAnalyticsCosts", "createIPRule",
    "deleteIPRule", "listAuditLogs", "verifyAuditLog", "badToken", "providerError",
]


def run(steps: dict[str, Callable[[], str | None]]) -> int:
    """Runs every step in FLOW.md's order (a returned text is why it failed; a crash of the client
    is a failed step, not a failed flow); the exit code: 0 when all passed."""
    missing = [name for name in STEPS if name not in steps]
    if missing or len(steps) != len(STEPS):
        raise SystemExit(f"the flow's steps differ from FLOW.md: missing {missing}")
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
