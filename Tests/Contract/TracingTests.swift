import Foundation
import Generated
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import Handlers
@testable import Server

/// Tracing over OTLP/HTTP to a collector on 127.0.0.1 (the mock provider server's `/otlp/v1/traces`):
/// a server span per request, child of the client's `traceparent`, with admission, the upstream
/// call and the recorded usage inside it under OpenTelemetry's GenAI names; no secret in any span.
@Suite("Tracing")
struct TracingTests {
    struct ExportedSpan {
        var name: String
        var traceId: String
        var spanId: String
        var parentSpanId: String
        var kind: Int
        var attributes: [String: String]
    }

    /// Every span the collector has received, from the JSON exports.
    static func exported() -> [ExportedSpan] {
        MockProviderServer.shared.received.filter { $0.path == "/otlp/v1/traces" }.flatMap { export -> [ExportedSpan] in
            guard let object = try? JSONSerialization.jsonObject(with: Data(export.body.utf8)) as? [String: Any] else { return [] }
            let resourceSpans = object["resourceSpans"] as? [[String: Any]] ?? []
            let spans = resourceSpans.flatMap {
                ($0["scopeSpans"] as? [[String: Any]] ?? []).flatMap { $0["spans"] as? [[String: Any]] ?? [] }
            }
            return spans.map { span in
                var attributes: [String: String] = [:]
                for attribute in span["attributes"] as? [[String: Any]] ?? [] {
                    guard let key = attribute["key"] as? String, let value = attribute["value"] as? [String: Any], let first = value.first
                    else { continue }
                    attributes[key] = "\(first.value)"
                }
                let kind = (span["kind"] as? Int) ?? Int("\(span["kind"] ?? "")") ?? kindNumber(span["kind"])
                return ExportedSpan(
                    name: span["name"] as? String ?? "", traceId: id(span["traceId"]), spanId: id(span["spanId"]),
                    parentSpanId: id(span["parentSpanId"]), kind: kind, attributes: attributes)
            }
        }
    }

    /// An id as hex. OTLP's JSON spells ids in hex; swift-otel 1.6 sends protobuf's JSON form, base64.
    static func id(_ value: Any?) -> String {
        let text = value as? String ?? ""
        if text.count % 2 == 0, text.allSatisfy(\.isHexDigit) { return text.lowercased() }
        return Data(base64Encoded: text).map { Hex.encode(Array($0)) } ?? text
    }

    /// OTLP JSON may spell the kind as its enum name.
    static func kindNumber(_ value: Any?) -> Int {
        ["SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER", "SPAN_KIND_CLIENT"].firstIndex(of: "\(value ?? "")") ?? -1
    }

    @Test func aProxiedCallIsOneTraceWithGenAIAttributes() async throws {
        let port = try await MockProviderServer.shared.port()
        let traceId = Hex.encode(RandomBytes.make(count: 16))
        let parent = Hex.encode(RandomBytes.make(count: 8))
        try await Harness.withApp(
            .sqlite,
            configure: {
                $0.tracingEndpoint = "http://127.0.0.1:\(port)/otlp/v1/traces"
                $0.tracingJSON = true
                $0.tracingBatchDelay = .milliseconds(100)
            }
        ) { client, _ in
            let fixture = Fixture(client: client)
            let token = try await fixture.signIn()
            var headers = Fixture.bearer(token)
            headers[HTTPField.Name("traceparent")!] = "00-\(traceId)-\(parent)-01"
            let response = try await fixture.send(
                .post, "/proxy/testai/chat/completions", headers: headers, json: #"{"model":"gpt-4o-mini","messages":[]}"#)
            #expect(response.status == .ok)
            // Spans leave in batches every 100 ms: wait for the usage span, the last of the call.
            var spans: [ExportedSpan] = []
            for _ in 0..<100 {
                spans = Self.exported().filter { $0.traceId == traceId }
                if spans.contains(where: { $0.name == "usage.record" }) { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            let server = try #require(spans.first { $0.kind == 2 }, "no server span in \(spans.map(\.name))")
            #expect(server.parentSpanId == parent, "the client's traceparent is the server span's parent")
            #expect(server.attributes["http.request.method"] == "POST")
            #expect(server.attributes["http.response.status_code"] == "200")
            #expect(server.attributes["safeapi.request_id"] == response.headers[.requestID])
            let admission = try #require(spans.first { $0.name == "admission" })
            #expect(admission.parentSpanId == server.spanId)
            let upstream = try #require(spans.first { $0.kind == 3 })
            #expect(upstream.parentSpanId == server.spanId)
            #expect(upstream.name == "chat gpt-4o-mini")
            #expect(upstream.attributes["gen_ai.system"] == "testai")
            #expect(upstream.attributes["gen_ai.request.model"] == "gpt-4o-mini")
            #expect(upstream.attributes["gen_ai.operation.name"] == "chat")
            #expect(upstream.attributes["server.address"] == "127.0.0.1")
            let usage = try #require(spans.first { $0.name == "usage.record" })
            #expect(usage.parentSpanId == server.spanId)
            #expect(usage.attributes["gen_ai.usage.input_tokens"] == "1000")
            #expect(usage.attributes["gen_ai.usage.output_tokens"] == "500")
            #expect(usage.attributes["gen_ai.response.model"] == "gpt-4o-mini")
            // No credential reaches the collector.
            let exports = MockProviderServer.shared.received.filter { $0.path == "/otlp/v1/traces" }.map(\.body).joined()
            for secret in [
                token.token, token.refreshToken, MockProviderServer.upstreamKey, Harness.adminKeyCanary, Harness.jwtSecretCanary,
            ] {
                #expect(!exports.contains(secret))
            }
        }
    }

    @Test func theSettingsAreCheckedAndTracingIsOffWithoutThem() throws {
        #expect(try ConfigTests.load([:]).tracingEndpoint == nil)
        #expect(try tracingBackend(ConfigTests.load([:])).tracer.isEnabled == false)
        let on = try ConfigTests.load(["tracing.endpoint": "http://collector:4318/v1/traces", "tracing.protocol": "http/json"])
        #expect(on.tracingEndpoint == "http://collector:4318/v1/traces")
        #expect(on.tracingJSON)
        #expect(throws: ConfigError.self) { try ConfigTests.load(["tracing.endpoint": "collector:4318"]) }
        #expect(throws: ConfigError.self) { try ConfigTests.load(["tracing.protocol": "grpc"]) }
    }
}
