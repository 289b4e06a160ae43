// The flow of scripts/sdk-generate/FLOW.md through the client that swift-openapi-generator's build
// plugin generates from the spec (Client, Operations, Components). Every call goes through the
// generated Client; credentials go in through a ClientMiddleware, the generator's documented way
// for security schemes (it makes no header parameters of them).
// Usage: SDKFlow BASE_URL ADMIN_KEY (or the environment's BASE_URL and ADMIN_KEY).
// Prints `ok <n> <step>` or `FAIL <n> <step>: <why>` for each of the 24 steps; exits 0 when all passed.
import Foundation
import HTTPTypes
import OpenAPIAsyncHTTPClient
import OpenAPIRuntime

let arguments = CommandLine.arguments
let environment = ProcessInfo.processInfo.environment
guard let baseURLText = arguments.count > 1 ? arguments[1] : environment["BASE_URL"],
    let adminKey = arguments.count > 2 ? arguments[2] : environment["ADMIN_KEY"],
    let serverURL = URL(string: baseURLText)
else {
    FileHandle.standardError.write(Data("usage: SDKFlow BASE_URL ADMIN_KEY\n".utf8))
    exit(2)
}

// MARK: - The client's configuration

/// Sets one header on every request: the admin key, or a user's bearer token.
struct Credential: ClientMiddleware {
    let name: HTTPField.Name
    let value: String

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, baseURL: URL, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, URL) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        var request = request
        request.headerFields[name] = value
        return try await next(request, body, baseURL)
    }
}

/// The bridge writes date-times with milliseconds (`2026-01-02T03:04:05.678Z`); the runtime's
/// default transcoder takes only whole seconds. This one reads both and writes milliseconds.
struct BridgeDates: DateTranscoder {
    func encode(_ date: Date) throws -> String { try ISO8601DateTranscoder.iso8601WithFractionalSeconds.encode(date) }
    func decode(_ text: String) throws -> Date {
        do { return try ISO8601DateTranscoder.iso8601WithFractionalSeconds.decode(text) } catch {
            return try ISO8601DateTranscoder.iso8601.decode(text)
        }
    }
}

func client(_ credential: Credential? = nil) -> Client {
    Client(
        serverURL: serverURL, configuration: Configuration(dateTranscoder: BridgeDates()),
        transport: AsyncHTTPClientTransport(), middlewares: credential.map { [$0] } ?? [])
}

let anonymous = client()
let admin = client(Credential(name: HTTPField.Name("X-Admin-Key")!, value: adminKey))
func user(_ token: String) -> Client { client(Credential(name: .authorization, value: "Bearer \(token)")) }

// MARK: - Steps

struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A response other than the one a step expects: its case, status and body, shortened.
func unexpected(_ output: Any) -> Failure { Failure("unexpected response \(String(describing: output).prefix(400))") }

func check(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw Failure(message()) }
}

func need<T>(_ value: T?, _ what: String) throws -> T {
    guard let value else { throw Failure("no \(what) from an earlier step") }
    return value
}

/// Writes a line at once (print buffers when stdout is a pipe), so a crash keeps the steps already printed.
func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

var number = 0
var passed = 0

/// Runs one step; a thrown error (a failed check, or the client's own error) fails that step only.
@MainActor func step(_ name: String, _ body: () async throws -> Void) async {
    number += 1
    do {
        try await body()
        passed += 1
        say("ok \(number) \(name)")
    } catch {
        // The client's own error, without its operationInput (which holds secrets such as appSecret).
        let why = (error as? ClientError).map { failure in
            let status = failure.response.map { " (status \($0.status.code))" } ?? ""
            return "\(failure.operationID): \(failure.causeDescription)\(status): \(failure.underlyingError)"
        } ?? String(describing: error)
        say("FAIL \(number) \(name): \(why.replacingOccurrences(of: "\n", with: " ").prefix(600))")
    }
}

/// A value inside an untyped JSON body (`OpenAPIValueContainer`), by object keys and array indices.
func lookup(_ container: OpenAPIValueContainer, _ path: [any Sendable]) -> (any Sendable)? {
    var value: (any Sendable)? = container.value
    for key in path {
        if let key = key as? String, let object = value as? [String: (any Sendable)?] {
            value = object[key] ?? nil
        } else if let index = key as? Int, let array = value as? [(any Sendable)?], array.indices.contains(index) {
            value = array[index]
        } else {
            return nil
        }
    }
    return value
}

let g = "swift"
let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
let appId = "flow.\(g).\(suffix)"
// One user per run: a userId belongs to the app that first signed it in (409 user_app_conflict
// under another app), and a deleted split key's id stays taken for its user.
let userId = "flow-\(g)-user-\(suffix)"
let keyId = "flowkey-\(g)"

var appSecret: String?
var token: String?
var refreshToken: String?
var clientPart: String?
var ruleId: String?

await step("createApp") {
    let output = try await admin.createApp(body: .json(.init(name: "flow \(g)", appId: appId)))
    guard case .created(let created) = output else { throw unexpected(output) }
    let credentials = try created.body.json
    try check(credentials.appSecret.hasPrefix("sab_app_"), "appSecret \(credentials.appSecret.prefix(8))…")
    try check(credentials.app.appId == appId, "appId \(credentials.app.appId)")
    appSecret = credentials.appSecret
}

await step("getApp") {
    let output = try await admin.getApp(path: .init(appId: appId))
    guard case .ok(let ok) = output else { throw unexpected(output) }
    let app = try ok.body.json
    try check(app.appId == appId, "appId \(app.appId)")
}

await step("issueToken") {
    let secret = try need(appSecret, "app secret")
    let output = try await anonymous.issueToken(body: .json(.init(userId: userId, appId: appId, appSecret: secret)))
    guard case .ok(let ok) = output else { throw unexpected(output) }
    let pair = try ok.body.json
    try check(pair.tokenType == .Bearer, "tokenType \(pair.tokenType)")
    token = pair.token
    refreshToken = pair.refreshToken
}

await step("verifyToken") {
    let output = try await user(try need(token, "token")).verifyToken()
    guard case .ok(let ok) = output else { throw unexpected(output) }
    let answer = try ok.body.json
    try check(answer.valid, "valid false")
    try check(answer.user.userId == userId, "user.userId \(answer.user.userId)")
}

await step("refreshToken") {
    let output = try await anonymous.refreshToken(body: .json(.init(refreshToken: try need(refreshToken, "refresh token"))))
    guard case .ok(let ok) = output else { throw unexpected(output) }
    let pair = try ok.body.json
    try check(!pair.token.isEmpty, "no token")
    token = pair.token
    refreshToken = pair.refreshToken
}

await step("getTokenInfo") {
    let output = try await user(try need(token, "token")).getTokenInfo()
    guard case .ok(let ok) = output else { throw unexpected(output) }
    let info = try ok.body.json
    try check(!info.revoked, "revoked true")
}

await step("listProviders") {
    let output = try await user(try need(token, "token")).listProviders()
    guard case .ok(let ok) = output else { throw unexpected(output) }
    let providers = try ok.body.json.providers
    try check(providers.contains { $0.id == "mock" }, "no mock among \(providers.map(\.id))")
}

await step("getProviderEndpoints") {
    let output = try await user(try need(token, "token")).getProviderEndpoints(path: .init(provider: "mock"))
    guard case .ok(let ok) = output else { throw unexpected(output) }
    let endpoints = try ok.body.json.endpoints
    try check(endpoints.contains { $0.path == "/chat/completions" }, "no /chat/completions in \(endpoints.map(\.path))")
}

await step("proxyPost") {
    // The provider's request: `endpoint` is the spec's one named field, the rest is free-form.
    let request = Operations.proxyPost.Input.Body.jsonPayload(
        endpoint: "/chat/completions",
        additionalProperties: try OpenAPIObjectContainer(unvalidatedValue: [
            "model": "mock-model", "messages": [["role": "user", "content": "hello \(g)"]],
        ]))
    let output = try await user(try need(token, "token")).proxyPost(
        path: .init(provider: "mock"), headers: .init(accept: [.init(contentType: .json)]), body: .json(request))
    guard case .ok(let ok) = output, case .json(let reply) = ok.body else { throw unexpected(output) }
    let text = lookup(reply, ["choices", 0, "message", "content"]) as? String
    try check(text?.contains("Mock reply: hello \(g)") == true, "reply \(String(describing: text))")
}

await step("createSplitKey") {
    let caller = user(try need(token, "token"))
    // Not a step: a key left by an earlier run under this id is deleted first.
    if case .ok(let ok) = try await caller.getSplitKey(path: .init(keyId: keyId)), try ok.body.json.active {
        _ = try await caller.deleteSplitKey(path: .init(keyId: keyId))
    }
    let request = Components.Schemas.SplitKeyRequest(apiKey: "sk-flow-\(g)-0123456789", provider: "mock", keyId: keyId)
    let output = try await caller.createSplitKey(body: .json(request))
    guard case .created(let created) = output else { throw unexpected(output) }
    let split = try created.body.json
    try check(!split.clientPart.isEmpty, "no clientPart")
    try check(split.keyId == keyId, "keyId \(split.keyId)")
    clientPart = split.clientPart
}

await step("listSplitKeys") {
    let output = try await user(try need(token, "token")).listSplitKeys()
    guard case .ok(let ok) = output else { throw unexpected(output) }
    let keys = try ok.body.json.keys
    try check(keys.contains { $0.keyId == keyId && $0.active }, "no active \(keyId) in \(keys.map(\.keyId))")
}

await step("getSplitKey") {
    let output = try await user(try need(token, "token")).getSplitKey(path: .init(keyId: keyId))
    guard case .ok(let ok) = output else { throw unexpected(output) }
    let key = try ok.body.json
    try check(key.provider == "mock", "provider \(key.provider)")
}

await step("validateSplitKey") {
    let part = try need(clientPart, "client part")
    let output = try await user(try need(token, "token")).validateSplitKey(
        headers: .init(X_hyphen_Partial_hyphen_Key_hyphen_Id: keyId, X_hyphen_Partial_hyphen_Key: part))
    guard case .ok(let ok) = output else { throw unexpected(output) }
    let validation = try ok.body.json
    try check(validation.valid, "valid false")
}

await step("rotateSplitKey") {
    let part = try need(clientPart, "client part")
    let output = try await user(try need(token, "token")).rotateSplitKey(
        path: .init(keyId: keyId), headers: .init(X_hyphen_Partial_hyphen_Key: part))
    guard case .ok(let ok) = output else { throw unexpected(output) }
    let rotated = try ok.body.json
    try check(rotated.version == 2, "version \(rotated.version)")
    try check(!rotated.clientPart.isEmpty && rotated.clientPart != part, "no new clientPart")
    clientPart = rotated.clientPart
}

await step("deleteSplitKey") {
    let output = try await user(try need(token, "token")).deleteSplitKey(path: .init(keyId: keyId))
    guard case .noContent = output else { throw unexpected(output) }
}

await step("getMyQuota") {
    let output = try await user(try need(token, "token")).getMyQuota()
    guard case .ok(let ok) = output else { throw unexpected(output) }
    let used = try ok.body.json.day.requests.used
    try check(used >= 1, "day.requests.used \(used)")
}

await step("getAnalyticsOverview") {
    let output = try await admin.getAnalyticsOverview()
    guard case .ok(let ok) = output else { throw unexpected(output) }
    _ = try ok.body.json
}

await step("getAnalyticsCosts") {
    let output = try await admin.getAnalyticsCosts()
    guard case .ok(let ok) = output else { throw unexpected(output) }
    _ = try ok.body.json
}

await step("createIPRule") {
    let output = try await admin.createIPRule(body: .json(.init(cidr: "203.0.113.4/32", _type: .deny, reason: "flow \(g)")))
    guard case .created(let created) = output else { throw unexpected(output) }
    let rule = try created.body.json
    try check(!rule.id.isEmpty, "no id")
    ruleId = rule.id
}

await step("deleteIPRule") {
    let output = try await admin.deleteIPRule(path: .init(ruleId: try need(ruleId, "rule id")))
    guard case .noContent = output else { throw unexpected(output) }
}

await step("listAuditLogs") {
    let output = try await admin.listAuditLogs(query: .init(limit: 10))
    guard case .ok(let ok) = output else { throw unexpected(output) }
    let page = try ok.body.json
    try check(!page.logs.isEmpty, "no entries")
}

await step("verifyAuditLog") {
    let output = try await admin.verifyAuditLog()
    guard case .ok(let ok) = output else { throw unexpected(output) }
    let verification = try ok.body.json
    try check(verification.valid, "valid false")
}

await step("badToken") {
    // The 401 is a documented response: the generated Output's `.unauthorized` case, whose body
    // is the typed APIError.
    let output = try await user("not-a-token").verifyToken()
    guard case .unauthorized(let refused) = output else { throw unexpected(output) }
    let error = try refused.body.json
    try check(error.error == "token_malformed", "error \(error.error)")
}

await step("providerError") {
    // The provider's own 400, passed through: `.badRequest`, whose body the spec leaves untyped
    // (an OpenAPIValueContainer, any JSON) and whose header marks it as the provider's.
    let request = Operations.proxyPost.Input.Body.jsonPayload(
        endpoint: "/chat/completions", additionalProperties: try OpenAPIObjectContainer(unvalidatedValue: ["model": "mock-model"]))
    let output = try await user(try need(token, "token")).proxyPost(
        path: .init(provider: "mock"), headers: .init(accept: [.init(contentType: .json)]), body: .json(request))
    guard case .badRequest(let refused) = output, case .json(let body) = refused.body else { throw unexpected(output) }
    let upstream = refused.headers.x_hyphen_safeapi_hyphen_upstream_hyphen_status
    try check(upstream == 400, "x-safeapi-upstream-status \(String(describing: upstream))")
    let type = lookup(body, ["error", "type"]) as? String
    try check(type == "invalid_request_error", "error.type \(String(describing: type))")
}

exit(passed == number ? 0 : 1)
