import Foundation
import Testing

@testable import Handlers

/// The checked-token cache changes no verdict: a remembered token is still refused once expired
/// or before it is valid, and a token that differs by one character is checked from scratch.
@Suite("Verified-token cache")
struct TokenCacheTests {
    static func service() async -> TokenService {
        await TokenService(settings: AuthSettings(jwtSecret: Secret(String(repeating: "k", count: 48))))
    }

    @Test func aRememberedTokenIsStillRefusedOnceExpired() async throws {
        let tokens = await Self.service()
        let issuedAt = Date()
        let (token, _) = try await tokens.issue(userId: "user-1", appId: "app.one", generation: 0, familyId: "fam", now: issuedAt)
        let user = try await tokens.verify(token, now: issuedAt.addingTimeInterval(1))
        #expect(user.userId == "user-1")
        // Now remembered: the same answer from memory while valid, and the right refusals after.
        #expect(try await tokens.verify(token, now: issuedAt.addingTimeInterval(2)) == user)
        await #expect(throws: AppError.tokenExpired) { try await tokens.verify(token, now: issuedAt.addingTimeInterval(901)) }
        await #expect(throws: AppError.tokenNotYetValid) { try await tokens.verify(token, now: issuedAt.addingTimeInterval(-60)) }
    }

    @Test func aTokenWithOneCharacterChangedIsCheckedAgainAndRefused() async throws {
        let tokens = await Self.service()
        let (token, _) = try await tokens.issue(userId: "user-1", appId: "app.one", generation: 0, familyId: "fam")
        _ = try await tokens.verify(token)
        var forged = Array(token)
        let last = forged.count - 2
        forged[last] = forged[last] == "A" ? "B" : "A"
        await #expect(throws: AppError.self) { try await tokens.verify(String(forged)) }
        // Another service with another secret never trusts what this one remembered.
        let other = await TokenService(settings: AuthSettings(jwtSecret: Secret(String(repeating: "x", count: 48))))
        await #expect(throws: AppError.tokenInvalidSignature) { try await other.verify(token) }
    }
}
