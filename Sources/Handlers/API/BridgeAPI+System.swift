import Foundation
public import Generated
import HTTPTypes
public import Hummingbird
import Logging
import NIOCore

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

extension BridgeAPI {
    public func getMetrics(_ input: Operations.GetMetrics.Input, request: Request, context: Context) async throws -> Response {
        await Self.metricsResponse(metrics)
    }

    /// The metrics as Prometheus reads them; the metrics listener answers with it too.
    public static func metricsResponse(_ metrics: BridgeMetrics) async -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: await metrics.exposition())))
    }
}
