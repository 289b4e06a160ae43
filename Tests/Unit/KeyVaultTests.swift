import Foundation
import Testing

@testable import Handlers

@Suite("BYOK vault: no single leak opens a key")
struct KeyVaultTests {
    static let master = RandomBytes.make(count: 32)
    static let vault = KeyVault(masterKey: master)!
    static let binding = SplitKeyBinding(keyId: "k-1", owner: "user-1", provider: "openai", version: 1)
    static let apiKey = "sk-canary-user-provider-key-0123456789"

    @Test func roundTrip() throws {
        let (sealed, part) = try Self.vault.seal(Self.apiKey, binding: Self.binding)
        #expect(try Self.vault.open(sealed, clientPart: part, binding: Self.binding).value == Self.apiKey)
        #expect(!Data(sealed.ciphertext).contains(Data(Self.apiKey.utf8)))
    }

    /// The row alone: without the master key every guess at it fails, even with the client part.
    @Test func theRowAndTheClientPartWithoutTheMasterKeyOpenNothing() throws {
        let (sealed, part) = try Self.vault.seal(Self.apiKey, binding: Self.binding)
        for _ in 0..<20 {
            let other = try #require(KeyVault(masterKey: RandomBytes.make(count: 32)))
            #expect(throws: KeyVault.OpenFailure.self) { _ = try other.open(sealed, clientPart: part, binding: Self.binding) }
        }
    }

    /// The row and the master key (a database dump plus a leaked environment): the client part is
    /// 256 random bits and part of the key derivation, so guesses fail.
    @Test func theRowAndTheMasterKeyWithoutTheClientPartOpenNothing() throws {
        let (sealed, part) = try Self.vault.seal(Self.apiKey, binding: Self.binding)
        for guess in [
            [UInt8](repeating: 0, count: 32), Array(Self.master), Array(sealed.nonce + sealed.nonce + sealed.nonce)[..<32].map { $0 },
            RandomBytes.make(count: 32),
        ] {
            #expect(guess != part)
            #expect(throws: KeyVault.OpenFailure.self) { _ = try Self.vault.open(sealed, clientPart: guess, binding: Self.binding) }
        }
    }

    @Test func aTamperedRowOrAMovedRowDoesNotOpen() throws {
        let (sealed, part) = try Self.vault.seal(Self.apiKey, binding: Self.binding)
        var tampered = sealed
        tampered.ciphertext[0] ^= 1
        #expect(throws: KeyVault.OpenFailure.self) { _ = try Self.vault.open(tampered, clientPart: part, binding: Self.binding) }
        var tag = sealed
        tag.tag[15] ^= 0x80
        #expect(throws: KeyVault.OpenFailure.self) { _ = try Self.vault.open(tag, clientPart: part, binding: Self.binding) }
        for moved in [
            SplitKeyBinding(keyId: "k-1", owner: "user-2", provider: "openai", version: 1),
            SplitKeyBinding(keyId: "k-1", owner: "user-1", provider: "claude", version: 1),
            SplitKeyBinding(keyId: "k-2", owner: "user-1", provider: "openai", version: 1),
            SplitKeyBinding(keyId: "k-1", owner: "user-1", provider: "openai", version: 2),
        ] {
            #expect(throws: KeyVault.OpenFailure.self) { _ = try Self.vault.open(sealed, clientPart: part, binding: moved) }
        }
    }

    @Test func bindingsThatConcatenateAlikeStillDiffer() {
        let a = SplitKeyBinding(keyId: "ab", owner: "c", provider: "p", version: 1)
        let b = SplitKeyBinding(keyId: "a", owner: "bc", provider: "p", version: 1)
        #expect(a.associatedData != b.associatedData)
    }

    @Test func masterKeysAndClientPartsParse() {
        #expect(KeyVault.parseMasterKey(Hex.encode(Self.master)) == Self.master)
        #expect(KeyVault.parseMasterKey(Data(Self.master).base64EncodedString()) == Self.master)
        #expect(KeyVault.parseMasterKey("too-short") == nil)
        #expect(KeyVault(masterKey: [1, 2, 3]) == nil)
        let part = RandomBytes.make(count: 32)
        #expect(ClientPart.decode(ClientPart.encode(part)) == part)
        #expect(ClientPart.decode("not base64!") == nil)
        #expect(ClientPart.decode(ClientPart.encode([1, 2, 3])) == nil)
    }
}
