import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where webhooks may be sent: https (http too outside production), a host that is not a
/// metadata name, and every address the host resolves to public: not private, loopback,
/// link-local (cloud metadata included), unique-local, carrier-grade NAT, multicast, reserved or
/// unspecified, in any IPv6 form that carries an IPv4 address (mapped, compatible, translated,
/// NAT64, 6to4, Teredo). Checked when a webhook is saved and again before each delivery, which
/// then connects to the address that was checked (no second lookup a name could be re-pointed
/// in between). `allowPrivate` (WEBHOOK_ALLOW_PRIVATE, for tests) lifts the address checks.
public struct WebhookURLGuard: Sendable {
    public let httpsOnly: Bool
    public let allowPrivate: Bool
    let resolve: @Sendable (String) async -> [IPAddress]

    public init(httpsOnly: Bool, allowPrivate: Bool, resolve: @escaping @Sendable (String) async -> [IPAddress] = Self.systemResolve) {
        self.httpsOnly = httpsOnly
        self.allowPrivate = allowPrivate
        self.resolve = resolve
    }

    /// A URL's host name, as the URL spells it, and the checked address a delivery must connect to.
    public struct Pin: Sendable, Equatable {
        public let host: String
        public let address: String
    }

    public enum Verdict: Sendable, Equatable {
        /// `pin` is nil when the host is an address literal (nothing to look up).
        case allowed(pin: Pin?)
        case refused(String)
    }

    static let refusedNetworks: [CIDR] = [
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24",
        "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
        "100.100.100.200/32",
        // IPv4-compatible (deprecated; `::` and `::1` among them), IPv4-translated (SIIT), NAT64
        // (well-known and local-use): they reach IPv4 hosts through a translator near us.
        "::/96", "::ffff:0:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48",
        "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8", "2001:db8::/32", "100::/64",
    ].compactMap { CIDR($0) }

    static let sixToFour = CIDR("2002::/16")!
    static let teredo = CIDR("2001::/32")!

    static let refusedNames: Set<String> = ["localhost", "metadata.google.internal", "metadata", "instance-data"]

    /// Whether a delivery must not go to `address`: a refused network, or an IPv6 address that
    /// carries a refused IPv4 one (6to4 `2002:AABB:CCDD::`, Teredo's server and client).
    static func isRefused(_ address: IPAddress) -> Bool {
        if refusedNetworks.contains(where: { $0.contains(address) }) { return true }
        let bytes = address.bytes
        var embedded: [[UInt8]] = []
        if sixToFour.contains(address) { embedded.append(Array(bytes[2..<6])) }
        if teredo.contains(address) { embedded += [Array(bytes[4..<8]), bytes[12..<16].map { ~$0 }] }
        return embedded.contains { isRefused(IPAddress(bytes: IPAddress.mappedPrefix + $0)) }
    }

    /// The reason the URL is refused, or nil.
    public func refusal(_ text: String) async -> String? {
        if case .refused(let reason) = await check(text) { return reason }
        return nil
    }

    /// Whether the URL may be delivered to, and the address to connect to.
    public func check(_ text: String) async -> Verdict {
        guard text.count <= 2048, let url = URL(string: text), let scheme = url.scheme?.lowercased(), let spelled = url.host,
            !spelled.isEmpty
        else {
            return .refused("is not an absolute URL")
        }
        guard scheme == "https" || (scheme == "http" && !httpsOnly) else {
            return .refused(httpsOnly ? "must use https" : "must use http or https")
        }
        guard url.user == nil, url.password == nil else { return .refused("must not carry credentials") }
        var host = spelled.lowercased()
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let refusedAddress = Verdict.refused("resolves to a private, loopback, link-local or reserved address")
        if let literal = IPAddress(host) {
            return !allowPrivate && Self.isRefused(literal) ? refusedAddress : .allowed(pin: nil)
        }
        if !allowPrivate, Self.refusedNames.contains(host) || host.hasSuffix(".localhost") || host.hasSuffix(".internal") {
            return .refused("names an internal host")
        }
        let addresses = await resolve(host)
        guard let first = addresses.first else { return .refused("has a host that does not resolve") }
        if !allowPrivate, addresses.contains(where: Self.isRefused) { return refusedAddress }
        // The HTTP client looks its override up by the host as the URL spells it.
        return .allowed(pin: Pin(host: spelled, address: first.description))
    }

    /// Every address of `host` (getaddrinfo, off the cooperative pool).
    @Sendable public static func systemResolve(_ host: String) async -> [IPAddress] {
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
