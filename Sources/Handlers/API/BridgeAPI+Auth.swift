import Foundation
public import Generated

extension BridgeAPI {
    public func issueToken(_ input: Operations.IssueToken.Input, context: Context) async throws -> Operations.IssueToken.Output {
        .ok(try await auth.issueToken(input.body, clientIP: context.clientIP))
    }

    public func refreshToken(_ input: Operations.RefreshToken.Input, context: Context) async throws -> Operations.RefreshToken.Output {
        .ok(try await auth.refresh(input.body.refreshToken, clientIP: context.clientIP))
    }

    public func verifyToken(_ input: Operations.VerifyToken.Input, context: Context) async throws -> Operations.VerifyToken.Output {
        .ok(VerifyResponse(valid: true, message: "Token is valid", user: Self.subject(try context.requireUser())))
    }

    public func getTokenInfo(_ input: Operations.GetTokenInfo.Input, context: Context) async throws -> Operations.GetTokenInfo.Output {
        let user = try context.requireUser()
        let remaining = max(0, Int64(user.expiresAt.timeIntervalSinceNow.rounded(.down)))
        return .ok(
            TokenInfo(
                user: Self.subject(user), issuedAt: user.issuedAt, expiresAt: user.expiresAt, expiresInSeconds: remaining, revoked: false))
    }

    public func logout(_ input: Operations.Logout.Input, context: Context) async throws -> Operations.Logout.Output {
        let user = try context.requireUser()
        let all = input.body?.all ?? false
        try await auth.logout(user, all: all)
        let message = all ? "Every token of this user has been revoked." : "Logged out: this token has been revoked."
        return .ok(LogoutResponse(success: true, message: message, userId: user.userId, revokedAll: all))
    }

    static func subject(_ user: AuthenticatedUser) -> TokenSubject {
        TokenSubject(userId: user.userId, appId: user.appId, tokenId: user.tokenId, issuedAt: user.issuedAt, expiresAt: user.expiresAt)
    }
}
