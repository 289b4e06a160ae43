"""The flow of FLOW.md through the client openapi-generator's `python` generator made (package bridge_ogpy)."""

import json
import secrets
import sys
from typing import Any

import flow_steps

from bridge_ogpy import ApiClient, Configuration
from bridge_ogpy.api import AdminApi, AnalyticsApi, AuthApi, ProxyApi, SplitKeysApi
from bridge_ogpy.exceptions import BadRequestException, UnauthorizedException
from bridge_ogpy.models import (
    CreateAppRequest,
    CreateIPRuleRequest,
    ProxyPostRequest,
    RefreshRequest,
    SplitKeyRequest,
    TokenRequest,
)

base_url, admin_key = sys.argv[1], sys.argv[2]
suffix = secrets.token_hex(4)
app_id = "flow.ogpy." + suffix
user_id = "flow-ogpy-user-" + suffix
key_id = "flowkey-ogpy"
state: dict[str, Any] = {}


def client(token: str | None = None) -> ApiClient:
    """A client with the admin key, or with a user's access token."""
    configuration = Configuration(host=base_url)
    if token is None:
        configuration.api_key = {"adminKey": admin_key}
    else:
        configuration.access_token = token
    return ApiClient(configuration)


admin = client()


def user() -> ApiClient:
    return client(state["token"])


def create() -> str | None:
    created = AdminApi(admin).create_app(CreateAppRequest(name="flow ogpy", app_id=app_id))
    state["secret"] = created.app_secret
    return None if created.app_secret.startswith("sab_app_") else "no app secret"


def get() -> str | None:
    return None if AdminApi(admin).get_app(app_id).app_id == app_id else "another app"


def issue() -> str | None:
    pair = AuthApi(client()).issue_token(TokenRequest(user_id=user_id, app_id=app_id, app_secret=state["secret"]))
    state["token"], state["refresh"] = pair.token, pair.refresh_token
    return None if pair.token_type == "Bearer" else f"token type {pair.token_type}"


def verify() -> str | None:
    answer = AuthApi(user()).verify_token()
    return None if answer.valid and answer.user.user_id == user_id else "not valid"


def refresh() -> str | None:
    state["token"] = AuthApi(client()).refresh_token(RefreshRequest(refresh_token=state["refresh"])).token
    return None


def info() -> str | None:
    return None if AuthApi(user()).get_token_info().revoked is False else "revoked"


def providers() -> str | None:
    answer = ProxyApi(user()).list_providers()
    return None if any(provider.id == "mock" for provider in answer.providers) else "no mock provider"


def endpoints() -> str | None:
    answer = ProxyApi(user()).get_provider_endpoints("mock")
    return None if any(endpoint.path == "/chat/completions" for endpoint in answer.endpoints) else "no /chat/completions"


def proxy() -> str | None:
    body = ProxyPostRequest.from_dict(
        {"endpoint": "/chat/completions", "model": "mock-model", "messages": [{"role": "user", "content": "hello ogpy"}]}
    )
    answer = ProxyApi(user()).proxy_post("mock", body)
    return None if "Mock reply: hello ogpy" in json.dumps(answer) else str(answer)[:200]


def split() -> str | None:
    body = SplitKeyRequest(api_key="sk-flow-ogpy-0123456789", provider="mock", key_id=key_id)
    state["part"] = SplitKeysApi(user()).create_split_key(body).client_part
    return None


def listed() -> str | None:
    return None if any(key.key_id == key_id for key in SplitKeysApi(user()).list_split_keys().keys) else "not listed"


def got() -> str | None:
    provider = SplitKeysApi(user()).get_split_key(key_id).provider
    return None if provider == "mock" else provider


def validated() -> str | None:
    return None if SplitKeysApi(user()).validate_split_key(key_id, state["part"]).valid else "not valid"


def rotated() -> str | None:
    answer = SplitKeysApi(user()).rotate_split_key(key_id, state["part"])
    return None if answer.version == 2 and answer.client_part != state["part"] else f"version {answer.version}"


def deleted() -> str | None:
    status = SplitKeysApi(user()).delete_split_key_with_http_info(key_id).status_code
    return None if status == 204 else f"status {status}"


def quota() -> str | None:
    return None if ProxyApi(user()).get_my_quota().day.requests.used >= 1 else "nothing used"


def overview() -> str | None:
    AnalyticsApi(admin).get_analytics_overview()
    return None


def costs() -> str | None:
    AnalyticsApi(admin).get_analytics_costs()
    return None


def rule() -> str | None:
    state["rule"] = AdminApi(admin).create_ip_rule(CreateIPRuleRequest(cidr="203.0.113.2/32", type="deny", reason="flow ogpy")).id
    return None


def unrule() -> str | None:
    status = AdminApi(admin).delete_ip_rule_with_http_info(state["rule"]).status_code
    return None if status == 204 else f"status {status}"


def audit() -> str | None:
    return None if len(AdminApi(admin).list_audit_logs(limit=10).logs) >= 1 else "no entries"


def chain() -> str | None:
    return None if AdminApi(admin).verify_audit_log().valid else "chain broken"


def bad_token() -> str | None:
    try:
        AuthApi(client("not-a-token")).verify_token()
    except UnauthorizedException as error:
        code = error.data.error if error.data is not None else json.loads(error.body or "{}").get("error")
        return None if code == "token_malformed" else f"code {code}"
    return "no error raised"


def provider_error() -> str | None:
    body = ProxyPostRequest.from_dict({"endpoint": "/chat/completions", "model": "mock-model"})
    try:
        ProxyApi(user()).proxy_post("mock", body)
    except BadRequestException as error:
        header = (error.headers or {}).get("x-safeapi-upstream-status")
        provider = json.loads(error.body or "{}")
        if error.status == 400 and header == "400" and provider.get("error", {}).get("type") == "invalid_request_error":
            return None
        return f"status {error.status}, header {header}, body {error.body!r}"
    return "no error raised"


sys.exit(flow_steps.run(globals()))
