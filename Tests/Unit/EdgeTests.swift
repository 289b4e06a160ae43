import Foundation
import Testing

@testable import Handlers

@Suite("CIDR, client address, origins, rate limiter")
struct EdgeTests {
    @Test func addressesAreParsedAndIPv4MappedIPv6IsIPv4() throws {
        #expect(IPAddress("10.1.2.3")?.description == "10.1.2.3")
        #expect(IPAddress("::ffff:10.1.2.3") == IPAddress("10.1.2.3"))
        #expect(IPAddress("::FFFF:0a01:0203") == IPAddress("10.1.2.3"))
        #expect(IPAddress("[2001:db8::1]")?.description == "2001:db8::1")
        #expect(IPAddress("2001:0db8:0000::0001")?.description == "2001:db8::1")
        for bad in ["", "10.1.2", "10.1.2.256", "1.2.3.4.5", "unknown", "fe80::1%eth0", "::ffff:10.1.2", "10.1.2.3 ", "2001:db8:::1"] {
            #expect(IPAddress(bad) == nil, "\(bad)")
        }
    }

    @Test func cidrsContainTheirNetworkOnly() throws {
        let v4 = try #require(CIDR("10.0.0.0/8"))
        #expect(v4.contains(IPAddress("10.255.1.2")!))
        #expect(v4.contains(IPAddress("::ffff:10.9.9.9")!))
        #expect(!v4.contains(IPAddress("11.0.0.1")!))
        #expect(!v4.contains(IPAddress("2001:db8::1")!))
        #expect(CIDR("192.168.1.77/24")?.description == "192.168.1.0/24")
        #expect(CIDR("203.0.113.5")?.description == "203.0.113.5/32")
        #expect(CIDR("::ffff:203.0.113.5")?.description == "203.0.113.5/32")
        #expect(CIDR("::ffff:203.0.113.5/120")?.description == "203.0.113.0/24")
        #expect(CIDR("::ffff:203.0.113.5/64")?.description == "::/64")
        #expect(CIDR("::ffff:203.0.113.5/32")?.description == "::/32")
        let v6 = try #require(CIDR("2001:db8::/32"))
        #expect(v6.contains(IPAddress("2001:db8:ffff::1")!))
        #expect(!v6.contains(IPAddress("2001:db9::1")!))
        #expect(CIDR("0.0.0.0/0")?.contains(IPAddress("8.8.8.8")!) == true)
        #expect(CIDR("::/0")?.contains(IPAddress("2001:db8::1")!) == true)
        #expect(CIDR("2001:db8::/29")?.contains(IPAddress("2001:dbf::1")!) == true)
        #expect(CIDR("2001:db8::/29")?.contains(IPAddress("2001:dc0::1")!) == false)
        for bad in ["10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/", "::/129", "10.0.0.0/8/8", "x/8", "10.0.0.0/+8"] {
            #expect(CIDR(bad) == nil, "\(bad)")
        }
    }

    @Test func forwardedForIsWalkedFromTheRightOnlyForTrustedPeers() {
        let resolver = ClientAddressResolver(trustedProxies: [CIDR("10.0.0.0/8")!, CIDR("127.0.0.1")!])
        // Untrusted peer: the header is ignored, whatever it says.
        #expect(resolver.resolve(peer: "198.51.100.7", forwardedFor: ["1.2.3.4"]).address == "198.51.100.7")
        // Trusted peer: the first untrusted hop from the right is the client; a forged left part is ignored.
        #expect(resolver.resolve(peer: "10.0.0.2", forwardedFor: ["6.6.6.6, 198.51.100.7, 10.0.0.9"]).address == "198.51.100.7")
        #expect(resolver.resolve(peer: "127.0.0.1", forwardedFor: ["6.6.6.6", "198.51.100.7"]).address == "198.51.100.7")
        // Every hop trusted: the leftmost.
        #expect(resolver.resolve(peer: "10.0.0.2", forwardedFor: ["10.1.1.1, 10.0.0.9"]).address == "10.1.1.1")
        // Garbage stops the walk at the last good hop.
        #expect(resolver.resolve(peer: "10.0.0.2", forwardedFor: ["evil, 10.0.0.9"]).address == "10.0.0.9")
        #expect(resolver.resolve(peer: "::ffff:10.0.0.2", forwardedFor: ["::ffff:198.51.100.7"]).address == "198.51.100.7")
        #expect(resolver.resolve(peer: "10.0.0.2", forwardedFor: []).address == "10.0.0.2")
        // Whether the peer is a trusted proxy (its X-Forwarded-Proto believed), with or without XFF.
        #expect(resolver.resolve(peer: "10.0.0.2", forwardedFor: []).peerTrusted)
        #expect(resolver.resolve(peer: "10.0.0.2", forwardedFor: ["198.51.100.7"]).peerTrusted)
        #expect(!resolver.resolve(peer: "198.51.100.7", forwardedFor: ["1.2.3.4"]).peerTrusted)
        #expect(resolver.resolve(peer: nil, forwardedFor: ["1.2.3.4"]).address == "unknown")
    }

    @Test func ipRulesDenyWinsAndAllowRulesMakeAnAllowList() {
        let rules = IPRuleSet()
        func rule(_ cidr: String, _ type: String, expires: Int64? = nil) -> IPRuleRecord {
            IPRuleRecord(
                id: UUID().uuidString, cidr: cidr, type: type, reason: nil, expiresAtMs: expires, createdBy: nil, createdAtMs: 0,
                updatedAtMs: 0)
        }
        #expect(rules.verdict(for: "1.2.3.4") == .pass)
        rules.replace(with: [rule("203.0.113.0/24", "deny")])
        #expect(rules.verdict(for: "203.0.113.9") == .denied)
        #expect(rules.verdict(for: "::ffff:203.0.113.9") == .denied)
        #expect(rules.verdict(for: "198.51.100.1") == .pass)
        rules.replace(with: [rule("203.0.113.0/24", "allow"), rule("203.0.113.9", "deny")])
        #expect(rules.verdict(for: "203.0.113.9") == .denied)
        #expect(rules.verdict(for: "203.0.113.10") == .pass)
        #expect(rules.verdict(for: "198.51.100.1") == .notAllowed)
        #expect(rules.verdict(for: "unknown") == .notAllowed)
        rules.replace(with: [rule("203.0.113.0/24", "deny", expires: 1000)])
        #expect(rules.verdict(for: "203.0.113.9", nowMs: 999) == .denied)
        #expect(rules.verdict(for: "203.0.113.9", nowMs: 1000) == .pass)
    }

    @Test func originPatterns() throws {
        let exact = try #require(OriginPattern("https://app.example.com"))
        #expect(exact.matches("https://app.example.com"))
        #expect(exact.matches("HTTPS://APP.EXAMPLE.COM"))
        #expect(!exact.matches("http://app.example.com"))
        #expect(!exact.matches("https://app.example.com:8443"))
        #expect(!exact.matches("https://app.example.com.evil.io"))
        let wildcard = try #require(OriginPattern("https://*.example.com"))
        #expect(wildcard.matches("https://a.example.com"))
        #expect(wildcard.matches("https://a.b.example.com"))
        #expect(!wildcard.matches("https://example.com"))
        #expect(!wildcard.matches("https://evilexample.com"))
        #expect(!wildcard.matches("https://a.example.com.evil.io"))
        #expect(!wildcard.matches("http://a.example.com"))
        #expect(!wildcard.matches("null"))
        #expect(OriginPattern("http://localhost:5173")?.matches("http://localhost:5173") == true)
        for bad in [
            "example.com", "https://", "https://*", "https://*.com", "https://a.example.com/path", "ftp://a.example.com", "https://a.*.com",
            "https://user@a.example.com",
        ] {
            #expect(OriginPattern(bad) == nil, "\(bad)")
        }
    }

    @Test func theSlidingWindowAdmitsTheLimitAndWeighsThePreviousWindow() {
        let origin = ContinuousClock.now
        let limiter = RateLimiter(limit: 10, window: .seconds(60), origin: origin)
        for index in 0..<10 {
            let decision = limiter.admit("k", now: origin + .seconds(1))
            #expect(decision.allowed)
            #expect(decision.standing.remaining == Int64(9 - index))
        }
        let refused = limiter.admit("k", now: origin + .seconds(2))
        #expect(!refused.allowed)
        #expect(refused.standing.remaining == 0)
        #expect(refused.standing.resetSeconds == 58)
        #expect(limiter.admit("other", now: origin + .seconds(2)).allowed)
        // Halfway through the next window, half of the previous one still counts: 5 more fit.
        let admitted = (0..<10).filter { _ in limiter.admit("k", now: origin + .seconds(90)).allowed }.count
        #expect(admitted == 5)
        // Two windows later nothing of the burst counts.
        #expect((0..<10).allSatisfy { _ in limiter.admit("k", now: origin + .seconds(185)).allowed })
    }
}
