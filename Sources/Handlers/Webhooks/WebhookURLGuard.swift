import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where webhooks may be sent: https (http too outside production), a host that is not a
/// metadata name, and every address the host resolves to public: not private, loopback,
/// link-local (cloud metadata included), unique-local, carrier-grade NAT, multicast, reserved or
/// unspecified, IPv4-mapped IPv6 included. Checked when a webhook is saved and again before each
/// delivery (a name may be re-pointed). `allowPrivate` (WEBHOOK_ALLOW_PRIVATE, for tests) lifts
/// the address checks.
public struct WebhookURLGuard: Sendable {
    public let httpsOnly: Bool
    public let allowPrivate: Bool

    public init(httpsOnly: Bool, allowPrivate: Bool) {
        self.httpsOnly = httpsOnly
        self.allowPrivate = allowPrivate
    }

    static let refusedNetworks: [CIDR] = [
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24",
        "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
        "100.100.100.200/32", "::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8", "64:ff9b::/96", "2001:db8::/32",
    ].compactMap { CIDR($0) }

    static let refusedNames: Set<String> = ["localhost", "metadata.google.internal", "metadata", "instance-data"]

    /// The reason the URL is refused, or nil.
    public func refusal(_ text: String) async -> String? {
        guard text.count <= 2048, let url = URL(string: text), let scheme = url.scheme?.lowercased(), var host = url.host?.lowercased(), !host.isEmpty else {
            return "is not an absolute URL"
        }
        guard scheme == "https" || (scheme == "http" && !httpsOnly) else { return httpsOnly ? "must use https" : "must use http or https" }
        guard url.user == nil, url.password == nil else { return "must not carry credentials" }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if allowPrivate { return nil }
        if Self.refusedNames.contains(host) || host.hasSuffix(".localhost") || host.hasSuffix(".internal") { return "names an internal host" }
        let addresses: [IPAddress]
        if let literal = IPAddress(host) {
            addresses = [literal]
        } else {
            addresses = await Self.resolve(host)
            guard !addresses.isEmpty else { return "has a host that does not resolve" }
        }
        if addresses.contains(where: { address in Self.refusedNetworks.contains { $0.contains(address) } }) {
            return "resolves to a private, loopback, link-local or reserved address"
        }
        return nil
    }

    /// Every address of `host` (getaddrinfo, off the cooperative pool).
    static func resolve(_ host: String) async -> [IPAddress] {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var hints = addrinfo()
                hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
                var result: UnsafeMutablePointer<addrinfo>?
                guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result else {
                    continuation.resume(returning: [])
                    return
                }
                defer { freeaddrinfo(first) }
                var addresses: [IPAddress] = []
                var cursor: UnsafeMutablePointer<addrinfo>? = first
                while let entry = cursor {
                    var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
                    if entry.pointee.ai_family == AF_INET, let raw = entry.pointee.ai_addr {
                        raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                            var address = pointer.pointee.sin_addr
                            _ = inet_ntop(AF_INET, &address, &buffer, socklen_t(buffer.count))
                        }
                    } else if entry.pointee.ai_family == AF_INET6, let raw = entry.pointee.ai_addr {
                        raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                            var address = pointer.pointee.sin6_addr
                            _ = inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count))
                        }
                    }
                    let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                    if let address = IPAddress(text) { addresses.append(address) }
                    cursor = entry.pointee.ai_next
                }
                continuation.resume(returning: addresses)
            }
        }
    }
}
