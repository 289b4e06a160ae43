import Foundation
public import Generated

/// The `APIProtocol` conformance: thin, one file per tag (`BridgeAPI+System.swift`, …). Each
/// operation maps its `Input` to a service call and the result to an `Output`.
public struct BridgeAPI: APIProtocol {
    public typealias Context = AppRequestContext

    /// The version reported by `GET /`.
    public static let version = "2.0.0"

    let database: any Database
    let startedAt: ContinuousClock.Instant
    let readinessTimeout: Duration

    public init(database: any Database, readinessTimeout: Duration = .seconds(2)) {
        self.database = database
        self.startedAt = .now
        self.readinessTimeout = readinessTimeout
    }
}
