import Crypto
public import Foundation

/// Webhook signing secrets: generated here (`whsec_` + base64 of 32 random bytes), stored sealed
/// with AES-GCM under a key derived from the JWT secret (HKDF-SHA256, its own label), and used to
/// sign deliveries as Standard Webhooks: `v1,` + base64(HMAC-SHA256(secret, "id.timestamp.body")).
public struct WebhookCrypto: Sendable {
    private let key: SymmetricKey

    public init(jwtSecret: Secret<String>) {
        key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: Data(jwtSecret.value.utf8)), salt: Data("safeapi-bridge".utf8),
            info: Data("webhook-secret/v1".utf8), outputByteCount: 32
        )
    }

    public static func newSecret() -> String {
        "whsec_" + Data(RandomBytes.make(count: 32)).base64EncodedString()
    }

    public func seal(_ secret: String) throws -> String {
        let box = try AES.GCM.seal(Data(secret.utf8), using: key)
        guard let combined = box.combined else { throw CryptoKitError.incorrectParameterSize }
        return combined.base64EncodedString()
    }

    /// Nil when the sealed text does not open (a changed JWT secret: rotate the webhook's secret).
    public func open(_ sealed: String) -> String? {
        guard let data = Data(base64Encoded: sealed), let box = try? AES.GCM.SealedBox(combined: data),
            let plain = try? AES.GCM.open(box, using: key)
        else { return nil }
        return String(decoding: plain, as: UTF8.self)
    }

    public static func signature(secret: String, id: String, timestamp: Int64, body: Data) -> String? {
        guard secret.hasPrefix("whsec_"), let keyBytes = Data(base64Encoded: String(secret.dropFirst(6))) else { return nil }
        var message = Data("\(id).\(timestamp).".utf8)
        message.append(body)
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: keyBytes))
        return "v1," + Data(mac).base64EncodedString()
    }
}
