import Foundation
import Handlers
import Logging

/// Outside production, a missing JWT_SECRET is generated once (32 random bytes, hex) and kept in
/// `<data dir>/jwt-secret` (mode 0600), so tokens survive a restart. It is announced with a loud
/// warning; production refuses to start without JWT_SECRET instead (see `AppConfig.load`).
enum DevelopmentSecrets {
    static func jwtSecret(config: AppConfig, logger: Logger) throws -> Secret<String> {
        if let secret = config.jwtSecret { return secret }
        precondition(!config.isProduction, "AppConfig.load refuses production without JWT_SECRET")
        let path = (config.dataDirectory as NSString).appendingPathComponent("jwt-secret")
        if let stored = try? String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
            stored.count >= 32
        {
            logger.warning("JWT_SECRET is not set: using the development secret kept in \(path). Never do this in production.")
            return Secret(stored)
        }
        try FileManager.default.createDirectory(atPath: config.dataDirectory, withIntermediateDirectories: true)
        let secret = Hex.encode(RandomBytes.make(count: 32))
        guard FileManager.default.createFile(atPath: path, contents: Data(secret.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw ConfigError(reason: "cannot write the development JWT secret to \(path)")
        }
        logger.warning(
            "JWT_SECRET is not set: GENERATED a development secret and saved it to \(path). Set JWT_SECRET (and APP_ENV=production) before deploying."
        )
        return Secret(secret)
    }

    /// Outside production, a missing BYOK_MASTER_KEY is generated once and kept in
    /// `<data dir>/byok-master-key` (mode 0600). In production there is none: split keys are off.
    static func byokMasterKey(config: AppConfig, logger: Logger) throws -> Secret<[UInt8]>? {
        if let key = config.byokMasterKey { return key }
        guard !config.isProduction else {
            logger.notice("BYOK_MASTER_KEY is not set: split-key routes answer 503 byok_disabled")
            return nil
        }
        let path = (config.dataDirectory as NSString).appendingPathComponent("byok-master-key")
        if let stored = try? String(contentsOfFile: path, encoding: .utf8), let bytes = KeyVault.parseMasterKey(stored) {
            logger.warning("BYOK_MASTER_KEY is not set: using the development master key kept in \(path). Never do this in production.")
            return Secret(bytes)
        }
        try FileManager.default.createDirectory(atPath: config.dataDirectory, withIntermediateDirectories: true)
        let bytes = RandomBytes.make(count: 32)
        guard FileManager.default.createFile(atPath: path, contents: Data(Hex.encode(bytes).utf8), attributes: [.posixPermissions: 0o600])
        else {
            throw ConfigError(reason: "cannot write the development BYOK master key to \(path)")
        }
        logger.warning(
            "BYOK_MASTER_KEY is not set: GENERATED a development master key and saved it to \(path). Set BYOK_MASTER_KEY before deploying; split keys made with this one open only with it."
        )
        return Secret(bytes)
    }
}
