// The flow of ../FLOW.md through the client openapi-generator's typescript-fetch made from
// the spec. run.sh copies this file next to the generated `client/` folder and compiles both.
// Usage: node flow.js BASE_URL ADMIN_KEY. Prints one line a step, then `passed=N total=24`.
import {
    AdminApi, AnalyticsApi, AuthApi, Configuration, FetchError, ProxyApi, ResponseError, SplitKeysApi,
} from "./client";

declare const process: { argv: string[]; exitCode?: number };

const [basePath, adminKey] = process.argv.slice(2);
const g = "ts";
// Each run has its own app and user, so runs on one server never collide: a user id belongs to
// the first app that had a token issued for it (409 user_app_conflict), and a deleted split key
// stays listed as inactive under its owner, so its id cannot be split again by the same user.
const suffix = Math.random().toString(36).slice(2, 10);
const userId = `flow-${g}-user-${suffix}`;
const keyId = `flowkey-${g}`;

const admin = new Configuration({ basePath, apiKey: adminKey });
const adminApi = new AdminApi(admin);
const analyticsApi = new AnalyticsApi(admin);
const anonymousAuth = new AuthApi(new Configuration({ basePath }));

// The user's token changes at refresh (step 5); these clients always send the current one.
let token = "";
const user = new Configuration({ basePath, accessToken: () => token });
const authApi = new AuthApi(user);
const proxyApi = new ProxyApi(user);
const splitKeysApi = new SplitKeysApi(user);

// What the steps hand on to later ones.
let appId = "";
let appSecret = "";
let refreshToken = "";
let clientPart = "";
let ipRuleId = "";

function check(condition: unknown, why: string): void {
    if (!condition) throw new Error(why);
}

// A value an earlier step hands on; without it the step cannot run.
function needs(value: string, from: string): string {
    check(value, `no ${from} (an earlier step failed)`);
    return value;
}

// A call's answer: status checked, body parsed by the generated client.
async function expect<T>(call: Promise<{ raw: Response; value(): Promise<T> }>, status: number): Promise<T> {
    const response = await call;
    check(response.raw.status === status, `status ${response.raw.status}, expected ${status}`);
    return response.value();
}

// The bridge's error body from the generated client's ResponseError.
async function errorBody(error: unknown): Promise<{ status: number; headers: Headers; body: any }> {
    if (!(error instanceof ResponseError)) throw error;
    const text = await error.response.text();
    let body: any = text;
    try { body = JSON.parse(text); } catch { /* not JSON: keep the text */ }
    return { status: error.response.status, headers: error.response.headers, body };
}

const steps: Array<[string, () => Promise<void>]> = [
    ["createApp", async () => {
        const created = await expect(adminApi.createAppRaw({
            createAppRequest: { name: `flow ${g}`, appId: `flow.${g}.${suffix}` },
        }), 201);
        check(created.appSecret.startsWith("sab_app_"), "appSecret does not start with sab_app_");
        appId = created.app.appId;
        appSecret = created.appSecret;
    }],
    ["getApp", async () => {
        const app = await expect(adminApi.getAppRaw({ appId: needs(appId, "appId") }), 200);
        check(app.appId === appId, `appId ${app.appId}`);
    }],
    ["issueToken", async () => {
        const issued = await expect(anonymousAuth.issueTokenRaw({
            tokenRequest: { userId, appId: needs(appId, "appId"), appSecret },
        }), 200);
        check(issued.tokenType === "Bearer", `tokenType ${issued.tokenType}`);
        token = issued.token;
        refreshToken = issued.refreshToken;
    }],
    ["verifyToken", async () => {
        const verified = await expect(authApi.verifyTokenRaw(), 200);
        check(verified.valid === true, "valid is not true");
        check(verified.user.userId === userId, `user.userId ${verified.user.userId}`);
    }],
    ["refreshToken", async () => {
        const refreshed = await expect(anonymousAuth.refreshTokenRaw({
            refreshRequest: { refreshToken: needs(refreshToken, "refresh token") },
        }), 200);
        check(refreshed.token && refreshed.token !== token, "no new token");
        token = refreshed.token;
        refreshToken = refreshed.refreshToken;
    }],
    ["getTokenInfo", async () => {
        const info = await expect(authApi.getTokenInfoRaw(), 200);
        check(info.revoked === false, "revoked is not false");
    }],
    ["listProviders", async () => {
        const list = await expect(proxyApi.listProvidersRaw(), 200);
        check(list.providers.some((provider) => provider.id === "mock"), "no provider mock");
    }],
    ["getProviderEndpoints", async () => {
        const endpoints = await expect(proxyApi.getProviderEndpointsRaw({ provider: "mock" }), 200);
        check(endpoints.endpoints.some((endpoint) => endpoint.path === "/chat/completions"),
            "no /chat/completions");
    }],
    ["proxyPost", async () => {
        const reply = await expect(proxyApi.proxyPostRaw({
            provider: "mock",
            proxyPostRequest: {
                endpoint: "/chat/completions", model: "mock-model",
                messages: [{ role: "user", content: `hello ${g}` }],
            },
        }), 200);
        const text = reply?.choices?.[0]?.message?.content;
        check(typeof text === "string" && text.includes(`Mock reply: hello ${g}`),
            `reply ${JSON.stringify(reply)}`);
    }],
    ["createSplitKey", async () => {
        const created = await expect(splitKeysApi.createSplitKeyRaw({
            splitKeyRequest: { apiKey: `sk-flow-${g}-0123456789`, provider: "mock", keyId },
        }), 201);
        check(created.clientPart, "no clientPart");
        clientPart = created.clientPart;
    }],
    ["listSplitKeys", async () => {
        const list = await expect(splitKeysApi.listSplitKeysRaw(), 200);
        check(list.keys.some((key) => key.keyId === keyId), `no ${keyId}`);
    }],
    ["getSplitKey", async () => {
        const key = await expect(splitKeysApi.getSplitKeyRaw({ keyId }), 200);
        check(key.provider === "mock", `provider ${key.provider}`);
    }],
    ["validateSplitKey", async () => {
        const validation = await expect(splitKeysApi.validateSplitKeyRaw({
            xPartialKeyId: keyId, xPartialKey: needs(clientPart, "clientPart"),
        }), 200);
        check(validation.valid === true, "valid is not true");
    }],
    ["rotateSplitKey", async () => {
        const rotated = await expect(splitKeysApi.rotateSplitKeyRaw({
            keyId, xPartialKey: needs(clientPart, "clientPart"),
        }), 200);
        check(rotated.version === 2, `version ${rotated.version}`);
        check(rotated.clientPart && rotated.clientPart !== clientPart, "no new clientPart");
        clientPart = rotated.clientPart;
    }],
    ["deleteSplitKey", async () => {
        await expect(splitKeysApi.deleteSplitKeyRaw({ keyId }), 204);
    }],
    ["getMyQuota", async () => {
        const quota = await expect(proxyApi.getMyQuotaRaw(), 200);
        check(quota.day.requests.used >= 1, `day.requests.used ${quota.day.requests.used}`);
    }],
    ["getAnalyticsOverview", async () => {
        await expect(analyticsApi.getAnalyticsOverviewRaw({}), 200);
    }],
    ["getAnalyticsCosts", async () => {
        await expect(analyticsApi.getAnalyticsCostsRaw({}), 200);
    }],
    ["createIPRule", async () => {
        const rule = await expect(adminApi.createIPRuleRaw({
            createIPRuleRequest: { cidr: "203.0.113.3/32", type: "deny", reason: `flow ${g}` },
        }), 201);
        check(rule.id, "no id");
        ipRuleId = rule.id;
    }],
    ["deleteIPRule", async () => {
        await expect(adminApi.deleteIPRuleRaw({ ruleId: needs(ipRuleId, "IP rule id") }), 204);
    }],
    ["listAuditLogs", async () => {
        const page = await expect(adminApi.listAuditLogsRaw({ limit: 10 }), 200);
        check(page.logs.length >= 1, "no entries");
    }],
    ["verifyAuditLog", async () => {
        const verification = await expect(adminApi.verifyAuditLogRaw(), 200);
        check(verification.valid === true, "valid is not true");
    }],
    ["badToken", async () => {
        const badAuth = new AuthApi(new Configuration({ basePath, accessToken: "not-a-token" }));
        try {
            await badAuth.verifyToken();
        } catch (error) {
            const { status, body } = await errorBody(error);
            check(status === 401, `status ${status}`);
            check(body?.error === "token_malformed", `error ${JSON.stringify(body)}`);
            return;
        }
        throw new Error("no error");
    }],
    ["providerError", async () => {
        try {
            await proxyApi.proxyPostRaw({
                provider: "mock",
                proxyPostRequest: { endpoint: "/chat/completions", model: "mock-model" },
            });
        } catch (error) {
            const { status, headers, body } = await errorBody(error);
            check(status === 400, `status ${status}`);
            const upstream = headers.get("x-safeapi-upstream-status");
            check(upstream === "400", `x-safeapi-upstream-status ${upstream}`);
            check(body?.error?.type === "invalid_request_error", `body ${JSON.stringify(body)}`);
            return;
        }
        throw new Error("no error");
    }],
];

async function describe(error: unknown): Promise<string> {
    if (error instanceof ResponseError) {
        const { status, body } = await errorBody(error);
        return `status ${status} ${typeof body === "string" ? body : JSON.stringify(body)}`;
    }
    if (error instanceof FetchError) return `${error.message}: ${error.cause}`;
    return error instanceof Error ? error.message : String(error);
}

async function main(): Promise<void> {
    let passed = 0;
    for (const [index, [name, run]] of steps.entries()) {
        try {
            await run();
            passed += 1;
            console.log(`ok ${index + 1} ${name}`);
        } catch (error) {
            console.log(`FAIL ${index + 1} ${name}: ${await describe(error)}`);
        }
    }
    console.log(`passed=${passed} total=${steps.length}`);
    process.exitCode = passed === steps.length ? 0 : 1;
}

main().catch((error) => {
    console.log(`FAIL flow: ${error}`);
    process.exitCode = 1;
});
