import Foundation

/// What the edge of the server enforces before a route runs: who the client is, where it may
/// come from, how fast, over what transport, and how big its requests may be.
public struct EdgePolicy: Sendable {
    /// Peers whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed.
    public var trustedProxies: [CIDR] = []
    /// Per client IP on the operations marked `x-rate-limit: address`; 0 turns it off.
    public var ipRateLimit = 100
    public var ipRateWindow: Duration = .seconds(3600)
    /// Per client IP on the sign-in operations (`x-rate-limit: auth`), counted apart; 0 turns it off.
    public var authRateLimit = 300
    public var authRateWindow: Duration = .seconds(900)
    /// Per user on proxied calls; 0 turns it off.
    public var userRateLimit = 60
    public var userRateWindow: Duration = .seconds(60)
    /// Exact origins and `https://*.example.com` patterns.
    public var allowedOrigins: [OriginPattern] = []
    /// false: a request without an `Origin` header is refused (browsers only).
    public var allowNoOrigin = true
    /// Refuse plain HTTP (production without native TLS): redirect GETs to `publicURL`.
    public var requireHTTPS = false
    public var publicURL: String?
    public var maxBodyBytes = 2 * 1024 * 1024
    public var maxHeaderBytes = 16 * 1024
    public var maxHeaderCount = 100

    public init() {}

    /// Paths outside every edge check but the security headers: the liveness probe.
    static func isProbe(_ path: String) -> Bool { path == "/health" }
}

/// An allowed browser origin: `https://app.example.com` exactly, or `https://*.example.com` for
/// any subdomain (one or more labels) of `example.com` over https. Ports must match.
public struct OriginPattern: Sendable, Equatable, CustomStringConvertible {
    let scheme: String
    /// The host, or for a wildcard the suffix after `*.`.
    let host: String
    let port: Int?
    let wildcard: Bool

    public init?(_ text: String) {
        guard let parts = Self.split(text.lowercased()) else { return nil }
        let host = parts.host
        if host.hasPrefix("*.") {
            let suffix = String(host.dropFirst(2))
            guard !suffix.isEmpty, !suffix.contains("*"), suffix.contains(".") else { return nil }
            self.host = suffix
            wildcard = true
        } else {
            guard !host.contains("*") else { return nil }
            self.host = host
            wildcard = false
        }
        scheme = parts.scheme
        port = parts.port
    }

    public func matches(_ origin: String) -> Bool {
        guard let parts = Self.split(origin.lowercased()), parts.scheme == scheme, parts.port == port, !parts.host.contains("*") else {
            return false
        }
        if wildcard { return parts.host.hasSuffix("." + host) && parts.host.count > host.count + 1 }
        return parts.host == host
    }

    public var description: String { "\(scheme)://\(wildcard ? "*." : "")\(host)\(port.map { ":\($0)" } ?? "")" }

    /// `scheme://host[:port]` and nothing else (no path, user info, query).
    static func split(_ text: String) -> (scheme: String, host: String, port: Int?)? {
        guard let range = text.range(of: "://") else { return nil }
        let scheme = String(text[..<range.lowerBound])
        guard scheme == "http" || scheme == "https" else { return nil }
        let authority = text[range.upperBound...]
        guard !authority.isEmpty, !authority.contains(where: { "/?#@ \\".contains($0) }) else { return nil }
        var host = String(authority)
        var port: Int?
        if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
            guard let value = Int(authority[authority.index(after: colon)...]), (1...65535).contains(value) else { return nil }
            port = value
            host = String(authority[..<colon])
        }
        guard !host.isEmpty, host.allSatisfy({ $0.isLetter || $0.isNumber || "-.*[]:".contains($0) }) else { return nil }
        return (scheme, host, port)
    }
}
