"""The flow of FLOW.md through the client openapi-python-client generated (package bridge_client)."""

import secrets
import sys
from typing import Any

import flow_steps

from bridge_client import AuthenticatedClient, Client
from bridge_client.api.admin import (
    create_app,
    create_ip_rule,
    delete_ip_rule,
    get_app,
    list_audit_logs,
    verify_audit_log,
)
from bridge_client.api.analytics import get_analytics_costs, get_analytics_overview
from bridge_client.api.auth import get_token_info, issue_token, refresh_token, verify_token
from bridge_client.api.proxy import get_my_quota, get_provider_endpoints, list_providers, proxy_post
from bridge_client.api.split_keys import (
    create_split_key,
    delete_split_key,
    get_split_key,
    list_split_keys,
    rotate_split_key,
    validate_split_key,
)
from bridge_client.models import (
    APIError,
    App,
    AppCredentials,
    AuditLogPage,
    AuditVerification,
    CreateAppRequest,
    CreateIPRuleRequest,
    CreateIPRuleRequestType,
    IPRule,
    MyQuota,
    ProviderEndpoints,
    ProviderList,
    ProxyPostBody,
    RefreshRequest,
    SplitKey,
    SplitKeyCreated,
    SplitKeyList,
    SplitKeyRequest,
    SplitKeyRotated,
    SplitKeyValidation,
    TokenInfo,
    TokenRequest,
    TokenResponse,
    VerifyResponse,
)
from bridge_client.types import Response

base_url, admin_key = sys.argv[1], sys.argv[2]
admin = AuthenticatedClient(base_url=base_url, token=admin_key, prefix="", auth_header_name="X-Admin-Key")
suffix = secrets.token_hex(4)
app_id = "flow.opc." + suffix
user_id = "flow-opc-user-" + suffix
key_id = "flowkey-opc"
state: dict[str, Any] = {}


def user() -> AuthenticatedClient:
    return AuthenticatedClient(base_url=base_url, token=state["token"])


def expect(response: Response[Any], status: int, kind: type) -> Any:
    if response.status_code != status or not isinstance(response.parsed, kind):
        raise AssertionError(f"status {response.status_code}: {response.content[:200]!r}")
    return response.parsed


def create() -> str | None:
    created: AppCredentials = expect(
        create_app.sync_detailed(client=admin, body=CreateAppRequest(name="flow opc", app_id=app_id)), 201, AppCredentials
    )
    state["secret"] = created.app_secret
    return None if created.app_secret.startswith("sab_app_") else "no app secret"


def get() -> str | None:
    app: App = expect(get_app.sync_detailed(app_id, client=admin), 200, App)
    return None if app.app_id == app_id else "another app"


def issue() -> str | None:
    body = TokenRequest(user_id=user_id, app_id=app_id, app_secret=state["secret"])
    pair: TokenResponse = expect(issue_token.sync_detailed(client=Client(base_url=base_url), body=body), 200, TokenResponse)
    state["token"], state["refresh"] = pair.token, pair.refresh_token
    return None if pair.token_type.value == "Bearer" else f"token type {pair.token_type}"


def verify() -> str | None:
    answer: VerifyResponse = expect(verify_token.sync_detailed(client=user()), 200, VerifyResponse)
    return None if answer.valid and answer.user.user_id == user_id else "not valid"


def refresh() -> str | None:
    body = RefreshRequest(refresh_token=state["refresh"])
    pair: TokenResponse = expect(refresh_token.sync_detailed(client=Client(base_url=base_url), body=body), 200, TokenResponse)
    state["token"] = pair.token
    return None


def info() -> str | None:
    answer: TokenInfo = expect(get_token_info.sync_detailed(client=user()), 200, TokenInfo)
    return None if answer.revoked is False else "revoked"


def providers() -> str | None:
    answer: ProviderList = expect(list_providers.sync_detailed(client=user()), 200, ProviderList)
    return None if any(provider.id == "mock" for provider in answer.providers) else "no mock provider"


def endpoints() -> str | None:
    answer: ProviderEndpoints = expect(get_provider_endpoints.sync_detailed("mock", client=user()), 200, ProviderEndpoints)
    return None if any(endpoint.path == "/chat/completions" for endpoint in answer.endpoints) else "no /chat/completions"


def proxy() -> str | None:
    body = ProxyPostBody.from_dict(
        {"endpoint": "/chat/completions", "model": "mock-model", "messages": [{"role": "user", "content": "hello opc"}]}
    )
    response = proxy_post.sync_detailed("mock", client=user(), body=body)
    text = str(response.parsed)
    return None if response.status_code == 200 and "Mock reply: hello opc" in text else f"{response.status_code}: {text[:200]}"


def split() -> str | None:
    body = SplitKeyRequest(api_key="sk-flow-opc-0123456789", provider="mock", key_id=key_id)
    created: SplitKeyCreated = expect(create_split_key.sync_detailed(client=user(), body=body), 201, SplitKeyCreated)
    state["part"] = created.client_part
    return None


def listed() -> str | None:
    answer: SplitKeyList = expect(list_split_keys.sync_detailed(client=user()), 200, SplitKeyList)
    return None if any(key.key_id == key_id for key in answer.keys) else "not listed"


def got() -> str | None:
    key: SplitKey = expect(get_split_key.sync_detailed(key_id, client=user()), 200, SplitKey)
    return None if key.provider == "mock" else key.provider


def validated() -> str | None:
    answer: SplitKeyValidation = expect(
        validate_split_key.sync_detailed(client=user(), x_partial_key_id=key_id, x_partial_key=state["part"]),
        200,
        SplitKeyValidation,
    )
    return None if answer.valid else "not valid"


def rotated() -> str | None:
    answer: SplitKeyRotated = expect(
        rotate_split_key.sync_detailed(key_id, client=user(), x_partial_key=state["part"]), 200, SplitKeyRotated
    )
    return None if answer.version == 2 and answer.client_part != state["part"] else f"version {answer.version}"


def deleted() -> str | None:
    response = delete_split_key.sync_detailed(key_id, client=user())
    return None if response.status_code == 204 else f"status {response.status_code}"


def quota() -> str | None:
    answer: MyQuota = expect(get_my_quota.sync_detailed(client=user()), 200, MyQuota)
    return None if answer.day.requests.used >= 1 else "nothing used"


def overview() -> str | None:
    response = get_analytics_overview.sync_detailed(client=admin)
    return None if response.status_code == 200 and response.parsed is not None else f"status {response.status_code}"


def costs() -> str | None:
    response = get_analytics_costs.sync_detailed(client=admin)
    return None if response.status_code == 200 and response.parsed is not None else f"status {response.status_code}"


def rule() -> str | None:
    body = CreateIPRuleRequest(cidr="203.0.113.1/32", type_=CreateIPRuleRequestType.DENY, reason="flow opc")
    created: IPRule = expect(create_ip_rule.sync_detailed(client=admin, body=body), 201, IPRule)
    state["rule"] = created.id
    return None


def unrule() -> str | None:
    response = delete_ip_rule.sync_detailed(state["rule"], client=admin)
    return None if response.status_code == 204 else f"status {response.status_code}"


def audit() -> str | None:
    answer: AuditLogPage = expect(list_audit_logs.sync_detailed(client=admin, limit=10), 200, AuditLogPage)
    return None if len(answer.logs) >= 1 else "no entries"


def chain() -> str | None:
    answer: AuditVerification = expect(verify_audit_log.sync_detailed(client=admin), 200, AuditVerification)
    return None if answer.valid else "chain broken"


def bad_token() -> str | None:
    bad = AuthenticatedClient(base_url=base_url, token="not-a-token")
    error: APIError = expect(verify_token.sync_detailed(client=bad), 401, APIError)
    return None if error.error == "token_malformed" else error.error


def provider_error() -> str | None:
    body = ProxyPostBody.from_dict({"endpoint": "/chat/completions", "model": "mock-model"})
    response = proxy_post.sync_detailed("mock", client=user(), body=body)
    parsed = response.parsed
    if response.status_code != 400 or response.headers.get("x-safeapi-upstream-status") != "400":
        return f"status {response.status_code}, header {response.headers.get('x-safeapi-upstream-status')}"
    if not isinstance(parsed, dict) or parsed.get("error", {}).get("type") != "invalid_request_error":
        return f"body {parsed!r}"
    return None


sys.exit(flow_steps.run(globals()))
