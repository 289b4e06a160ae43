import AsyncHTTPClient
public import Foundation
import NIOCore
import NIOHTTP1

/// Fetches identity providers' documents (key sets, OpenID configurations) over https, from
/// public addresses only (the webhooks' guard), connecting to the address that was checked, with
/// no redirects, a 5 s deadline and at most 1 MiB. `allowInsecure` (tests only, refused in
/// production) also lets plain http and private addresses through.
public struct HTTPDocumentFetcher: IdentityDocumentFetcher {
    let guardrail: WebhookURLGuard

    public init(allowInsecure: Bool) {
        self.guardrail = WebhookURLGuard(httpsOnly: !allowInsecure, allowPrivate: allowInsecure)
    }

    struct Refused: Error { var reason: String }

    public func fetch(_ url: String) async throws -> (body: Data, maxAge: Duration?) {
        let pin: WebhookURLGuard.Pin?
        switch await guardrail.check(url) {
        case .refused(let reason): throw Refused(reason: reason)
        case .allowed(let checked): pin = checked
        }
        // The webhooks' client settings: no redirects, and the host pinned to the checked address.
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: WebhookWorker.clientConfiguration(pin: pin))
        defer { Task { try? await client.shutdown() } }
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "accept", value: "application/json")
        // One deadline for the head and the body: the client's own ends with the head, and a
        // server dribbling its body would otherwise hold the fetch for as long as it likes.
        let prepared = request
        return try await Deadline.run(within: .seconds(5)) {
            let response = try await client.execute(prepared, timeout: .seconds(5))
            guard response.status == .ok else { throw Refused(reason: "HTTP \(response.status.code)") }
            let body = try await response.body.collect(upTo: 1 << 20)
            return (Data(body.readableBytesView), Self.maxAge(response.headers["cache-control"].joined(separator: ",")))
        }
    }

    /// `max-age` of a `Cache-Control` value; `no-store` and `no-cache` are none.
    static func maxAge(_ cacheControl: String) -> Duration? {
        for directive in cacheControl.lowercased().split(separator: ",") {
            let parts = directive.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            if parts.first == "no-store" || parts.first == "no-cache" { return .zero }
            if parts.count == 2, parts[0] == "max-age", let seconds = Int64(parts[1]) { return .seconds(seconds) }
        }
        return nil
    }
}
