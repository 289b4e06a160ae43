import Crypto
import Foundation

/// Opaque credentials the bridge hands out (app secrets, refresh tokens): 32 random bytes,
/// base64url, behind a prefix that secret scanners can match. Only their SHA-256 is stored: they
/// are random, so a fast hash is enough (no password-style stretching needed).
public enum Credentials {
    public static let appSecretPrefix = "sab_app_"
    public static let refreshTokenPrefix = "sab_rt_"

    public static func newAppSecret() -> String { appSecretPrefix + base64URL(RandomBytes.make(count: 32)) }
    public static func newRefreshToken() -> String { refreshTokenPrefix + base64URL(RandomBytes.make(count: 32)) }

    /// A random id for tokens, families and apps: 16 bytes, hex.
    public static func newId() -> String { Hex.encode(RandomBytes.make(count: 16)) }

    /// `sha256:<hex>`, the stored form of a credential.
    public static func hash(_ credential: String) -> String {
        "sha256:" + Hex.encode(SHA256.hash(data: Data(credential.utf8)))
    }

    /// Compares a presented credential with a stored hash in time that does not depend on where
    /// they differ.
    public static func matches(_ credential: String, hash stored: String) -> Bool {
        constantTimeEquals(Array(hash(credential).utf8), Array(stored.utf8))
    }

    /// True when both byte strings are equal; the time taken depends only on their lengths.
    public static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// The bytes of base64url text without padding (JWT parts, client parts); nil if malformed.
    static func base64URLDecoded(_ text: some StringProtocol) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.utf8.count % 4) % 4)
        return Data(base64Encoded: base64)
    }

    /// A JWT part (header or claims) read as a JSON object before anything is verified; nil if
    /// it is not base64url of one.
    static func jsonObject(base64URL part: some StringProtocol) -> [String: Any]? {
        guard let data = base64URLDecoded(part) else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }
}
