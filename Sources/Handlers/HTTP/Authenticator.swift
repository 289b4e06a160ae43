import Foundation
public import Generated
public import HTTPTypes
public import Hummingbird
import Logging

/// The spec's security schemes: `bearerAuth` (an access token, checked against the revocation
/// list in memory) and `adminKey` (`X-Admin-Key`, through the admin guard).
public struct Authenticator: SecurityHandler {
    public typealias Context = AppRequestContext

    let tokens: TokenService
    let revocations: RevocationList
    let adminGuard: AdminGuard

    public init(tokens: TokenService, revocations: RevocationList, adminGuard: AdminGuard) {
        self.tokens = tokens
        self.revocations = revocations
        self.adminGuard = adminGuard
    }

    public func authenticate(_ request: Request, context: inout Context, schemes: [String], operationId: String) async throws {
        if schemes.contains("adminKey") {
            let keyId = try await adminGuard.authorize(presented: request.headers[.adminKey], clientIP: context.clientIP)
            context.adminKeyId = keyId
            AuditTrail.actor("admin", keyId)
        } else if schemes.contains("bearerAuth") {
            do {
                let user = try await tokens.verify(try Self.accessToken(request, schemes: schemes))
                try revocations.check(user)
                context.user = user
                AuditTrail.actor("user", user.userId)
                context.logger[metadataKey: "user.id"] = .string(user.userId)
            } catch {
                context.logger.info(
                    "security: access token refused",
                    metadata: ["security.event": .string(error.code), "client.ip": .string(context.clientIP)])
                throw error
            }
        } else {
            throw AppError.internalError
        }
    }

    /// The access token: `Authorization: Bearer`, or on the SDK routes the header where each SDK
    /// puts its key (`x-api-key`, `x-goog-api-key`).
    static func accessToken(_ request: Request, schemes: [String]) throws(AppError) -> String {
        if request.headers[.authorization] == nil {
            if schemes.contains("sdkApiKey"), let token = request.headers[.sdkApiKey], !token.isEmpty { return token }
            if schemes.contains("sdkGoogApiKey"), let token = request.headers[.sdkGoogApiKey], !token.isEmpty { return token }
        }
        return try bearerToken(request)
    }

    /// The token of `Authorization: Bearer <token>` (the scheme word in any case).
    static func bearerToken(_ request: Request) throws(AppError) -> String {
        guard let header = request.headers[.authorization] else { throw .tokenMissing }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { throw .tokenMalformed }
        // Trailing blanks only (the split took the leading ones); Foundation's trimming is slow.
        var token = parts[1]
        while let last = token.last, last == " " || last == "\t" { token.removeLast() }
        return String(token)
    }
}

extension HTTPField.Name {
    /// `X-Admin-Key`
    public static let adminKey = Self("X-Admin-Key")!
    static let sdkApiKey = Self("x-api-key")!
    static let sdkGoogApiKey = Self("x-goog-api-key")!
}
