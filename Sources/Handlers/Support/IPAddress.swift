import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An IPv4 or IPv6 address as 16 bytes; IPv4 is held as IPv4-mapped IPv6 (`::ffff:a.b.c.d`), so
/// `::ffff:10.0.0.1` and `10.0.0.1` are the same address and match the same rules.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]

    static let mappedPrefix: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]

    public init?(_ text: some StringProtocol) {
        var string = String(text)
        // `[::1]` as in URLs and some proxies' headers; a zone (`fe80::1%eth0`) is not an address we rule on.
        if string.hasPrefix("["), string.hasSuffix("]") { string = String(string.dropFirst().dropLast()) }
        guard !string.isEmpty, string.count <= 45, !string.contains("%") else { return nil }
        if string.contains(":") {
            var address = in6_addr()
            guard inet_pton(AF_INET6, string, &address) == 1 else { return nil }
            bytes = withUnsafeBytes(of: &address) { Array($0) }
        } else {
            var address = in_addr()
            guard inet_pton(AF_INET, string, &address) == 1 else { return nil }
            bytes = Self.mappedPrefix + withUnsafeBytes(of: &address) { Array($0) }
        }
    }

    init(bytes: [UInt8]) { self.bytes = bytes }

    public var isIPv4: Bool { bytes.starts(with: Self.mappedPrefix) }

    /// What a per-address limit counts: an IPv4 address itself, an IPv6 address's /64 (one host
    /// usually has the whole /64, so counting single addresses would let it walk around a limit).
    public var limitKey: IPAddress {
        isIPv4 ? self : IPAddress(bytes: Array(bytes.prefix(8)) + [UInt8](repeating: 0, count: 8))
    }

    /// The canonical text: dotted quad for IPv4 (mapped or not), RFC 5952 for IPv6.
    public var description: String {
        if isIPv4 { return bytes[12...].map(String.init).joined(separator: ".") }
        var address = in6_addr()
        withUnsafeMutableBytes(of: &address) { $0.copyBytes(from: bytes) }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count)) != nil else { return "::" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// A network in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`, or a bare address for one host).
public struct CIDR: Sendable, Hashable, CustomStringConvertible {
    public let network: IPAddress
    /// Over the 128-bit form: an IPv4 `/8` is 104 here.
    public let prefixLength: Int

    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(parts[0]) else { return nil }
        // Dotted IPv4 takes an IPv4 prefix (0-32); anything written as IPv6, IPv4-mapped
        // included, takes an IPv6 prefix (0-128).
        let writtenAsIPv4 = !parts[0].contains(":")
        let maximum = writtenAsIPv4 ? 32 : 128
        var length = maximum
        if parts.count == 2 {
            guard parts[1].count <= 3, parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(parts[1]),
                (0...maximum).contains(value)
            else { return nil }
            length = value
        }
        prefixLength = length + (writtenAsIPv4 ? 96 : 0)
        network = IPAddress(bytes: Self.masked(address.bytes, prefixLength))
    }

    public func contains(_ address: IPAddress) -> Bool {
        Self.masked(address.bytes, prefixLength) == network.bytes
    }

    /// Normalised: the network address and the prefix as written for its family.
    public var description: String {
        network.isIPv4 && prefixLength >= 96 ? "\(network)/\(prefixLength - 96)" : "\(network)/\(prefixLength)"
    }

    static func masked(_ bytes: [UInt8], _ length: Int) -> [UInt8] {
        bytes.enumerated().map { index, byte in
            let bits = min(8, max(0, length - index * 8))
            return bits == 8 ? byte : byte & UInt8(truncatingIfNeeded: 0xff << (8 - bits))
        }
    }
}

/// Who the client is: the socket peer, unless the peer is a trusted proxy; then
/// `X-Forwarded-For` is walked from the right past trusted hops, and the first address that is
/// not a trusted proxy is the client. A forged header from an untrusted peer is ignored.
public struct ClientAddressResolver: Sendable {
    public let trustedProxies: [CIDR]

    public init(trustedProxies: [CIDR]) {
        self.trustedProxies = trustedProxies
    }

    public func isTrusted(_ address: IPAddress) -> Bool {
        trustedProxies.contains { $0.contains(address) }
    }

    /// `forwardedFor`: every `X-Forwarded-For` value, in order. Answers the client's address and
    /// whether the peer was a trusted proxy (whose `X-Forwarded-Proto` may then be believed).
    public func resolve(peer: String?, forwardedFor: [String]) -> (address: String, peerTrusted: Bool) {
        guard let peer, let peerAddress = IPAddress(peer) else { return (peer ?? "unknown", false) }
        guard isTrusted(peerAddress) else { return (peerAddress.description, false) }
        guard !forwardedFor.isEmpty else { return (peerAddress.description, true) }
        var client = peerAddress
        let hops = forwardedFor.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
        for hop in hops.reversed() {
            // An entry that is not an address cannot be walked past: the last good hop stands.
            guard let address = IPAddress(hop) else { break }
            client = address
            if !isTrusted(address) { break }
        }
        return (client.description, true)
    }
}
