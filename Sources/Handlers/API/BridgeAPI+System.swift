import Foundation
public import Generated
import Hummingbird
import Logging

extension BridgeAPI {
    public func getServiceInfo(_ input: Operations.GetServiceInfo.Input, context: Context) async throws -> Operations.GetServiceInfo.Output
    {
        .ok(
            ServiceInfo(
                service: "SafeAPI-Bridge",
                status: .running,
                version: RouteTable.version,
                message: "Server is healthy. Use /health for liveness and /ready for readiness."
            ))
    }

    public func getHealth(_ input: Operations.GetHealth.Input, context: Context) async throws -> Operations.GetHealth.Output {
        .ok(Health(status: .healthy, timestamp: Date(), uptimeSeconds: (ContinuousClock.now - startedAt).components.seconds))
    }

    public func getReadiness(_ input: Operations.GetReadiness.Input, context: Context) async throws -> Operations.GetReadiness.Output {
        let kind: DatabaseCheck.Kind = database.kind == .sqlite ? .sqlite : .postgres
        let start = ContinuousClock.now
        do {
            let database = self.database
            try await Deadline.run(within: readinessTimeout) {
                try await database.ping()
            }
            let micros = (ContinuousClock.now - start).microseconds
            return .ok(
                Readiness(status: .ready, timestamp: Date(), database: DatabaseCheck(status: .up, kind: kind, latencyMicros: micros)))
        } catch {
            context.logger.warning("readiness check failed", metadata: ["error.type": .string(String(reflecting: type(of: error)))])
            return .serviceUnavailable(
                Readiness(status: .unavailable, timestamp: Date(), database: DatabaseCheck(status: .down, kind: kind)))
        }
    }
}
