import Crypto
import Foundation

/// What the database holds for a split key: AES-256-GCM ciphertext, nonce and tag. Alone it
/// reveals nothing; with the master key alone it still reveals nothing (the data key also needs
/// the client part, which the server never stores).
public struct SealedKey: Sendable, Equatable {
    public var ciphertext: [UInt8]
    public var nonce: [UInt8]
    public var tag: [UInt8]

    public init(ciphertext: [UInt8], nonce: [UInt8], tag: [UInt8]) {
        self.ciphertext = ciphertext
        self.nonce = nonce
        self.tag = tag
    }
}

/// Who a sealed key belongs to; bound into the ciphertext as associated data, so a row moved to
/// another user, provider, id or version no longer opens.
public struct SplitKeyBinding: Sendable, Equatable {
    public var keyId: String
    public var owner: String
    public var provider: String
    public var version: Int64

    public init(keyId: String, owner: String, provider: String, version: Int64) {
        self.keyId = keyId
        self.owner = owner
        self.provider = provider
        self.version = version
    }

    /// Length-prefixed fields, so no two bindings serialize the same.
    var associatedData: [UInt8] {
        var bytes = Array("byok/v1".utf8)
        for field in [keyId, owner, provider, String(version)] {
            let utf8 = Array(field.utf8)
            bytes += withUnsafeBytes(of: UInt32(utf8.count).bigEndian, Array.init) + utf8
        }
        return bytes
    }
}

/// The BYOK vault: `dataKey = HKDF-SHA256(ikm: masterKey, salt: clientPart, info: "byok/v1" ‖ keyId)`,
/// then AES-256-GCM with the binding as associated data. Three things are needed to recover a
/// user's key, and they live in three places: the row (database), the master key (environment),
/// the client part (the client). See docs/byok.md.
public struct KeyVault: Sendable {
    private let masterKey: SymmetricKey

    public struct OpenFailure: Error, Equatable {}

    /// `masterKey`: 32 bytes.
    public init?(masterKey: [UInt8]) {
        guard masterKey.count == 32 else { return nil }
        self.masterKey = SymmetricKey(data: masterKey)
    }

    /// Seals `apiKey` under a new random client part, which is returned once and never stored.
    public func seal(_ apiKey: String, binding: SplitKeyBinding) throws -> (sealed: SealedKey, clientPart: [UInt8]) {
        let clientPart = RandomBytes.make(count: 32)
        return (try seal(apiKey, binding: binding, clientPart: clientPart), clientPart)
    }

    func seal(_ apiKey: String, binding: SplitKeyBinding, clientPart: [UInt8]) throws -> SealedKey {
        let box = try AES.GCM.seal(
            Array(apiKey.utf8), using: dataKey(clientPart: clientPart, keyId: binding.keyId), nonce: AES.GCM.Nonce(),
            authenticating: binding.associatedData)
        return SealedKey(ciphertext: Array(box.ciphertext), nonce: Array(box.nonce), tag: Array(box.tag))
    }

    /// The key, in memory only, or `OpenFailure` for any reason (wrong part, tampered row,
    /// another binding): the caller cannot tell which, and neither can a guesser.
    public func open(_ sealed: SealedKey, clientPart: [UInt8], binding: SplitKeyBinding) throws(OpenFailure) -> Secret<String> {
        guard clientPart.count == 32 else { throw OpenFailure() }
        do {
            let box = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: sealed.nonce), ciphertext: sealed.ciphertext, tag: sealed.tag)
            let plain = try AES.GCM.open(
                box, using: dataKey(clientPart: clientPart, keyId: binding.keyId), authenticating: binding.associatedData)
            guard let text = String(bytes: plain, encoding: .utf8) else { throw OpenFailure() }
            return Secret(text)
        } catch {
            throw OpenFailure()
        }
    }

    private func dataKey(clientPart: [UInt8], keyId: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(
            inputKeyMaterial: masterKey, salt: clientPart, info: Array("byok/v1".utf8) + Array(keyId.utf8), outputByteCount: 32)
    }

    /// `BYOK_MASTER_KEY`: 32 bytes as 64 hex digits or base64.
    public static func parseMasterKey(_ text: String) -> [UInt8]? {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if let bytes = Hex.decode(trimmed), bytes.count == 32 { return bytes }
        if let data = Data(base64Encoded: trimmed), data.count == 32 { return Array(data) }
        return nil
    }
}

/// The client part as it travels in `X-Partial-Key`: base64url, no padding.
public enum ClientPart {
    public static func encode(_ bytes: [UInt8]) -> String { Credentials.base64URL(bytes) }

    public static func decode(_ text: String) -> [UInt8]? {
        guard let data = Credentials.base64URLDecoded(text), data.count == 32 else { return nil }
        return Array(data)
    }
}
