import Foundation
import HTTPTypes
import Handlers
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// Mock AI providers on 127.0.0.1, started once per test process: OpenAI, Anthropic and Gemini
/// formats, JSON and SSE (events 50 ms apart), binary audio, an error that quotes the key, and a
/// route that never answers in time. Every request is recorded.
final class MockProviderServer: Sendable {
    struct Received: Sendable {
        let method: String
        let path: String
        let query: String
        let headers: [String: String]
        let body: String
    }

    static let upstreamKey = "sk-canary-upstream-key-5f1e2d3c4b5a69788796"
    static let shared = MockProviderServer()

    private let log = Mutex<[Received]>([])
    private let started = Mutex<Task<Int, any Error>?>(nil)
    /// Requests cancelled by the client (the connection went away while streaming).
    private let cancelled = Mutex<Int>(0)
    /// Key sets served at `/jwks/{name}`; a name without one answers 503 (its server is down).
    private let keySets = Mutex<[String: String]>([:])

    /// Publishes (or, with nil, takes down) the key set served at `/jwks/{name}`.
    func publish(_ name: String, jwks: String?) { keySets.withLock { $0[name] = jwks } }

    /// How many times `/jwks/{name}` was fetched.
    func fetches(of name: String) -> Int { received.filter { $0.path == "/jwks/" + name }.count }

    var received: [Received] { log.withLock { $0 } }
    var cancelledStreams: Int { cancelled.withLock { $0 } }

    func requests(marker: String) -> [Received] {
        received.filter { $0.body.contains(marker) || $0.query.contains(marker) || $0.path.contains(marker) }
    }

    /// The port, starting the server on first use.
    func port() async throws -> Int {
        let task = started.withLock { task -> Task<Int, any Error> in
            if let task { return task }
            let new = Task { try await self.start() }
            task = new
            return new
        }
        return try await task.value
    }

    private func start() async throws -> Int {
        let router = Router()
        router.add(middleware: Recorder(server: self))
        // An OpenTelemetry collector's OTLP/HTTP traces endpoint (JSON): the recorder keeps each export.
        router.post("/otlp/v1/traces") { _, _ in Self.json("{}") }
        router.get("/jwks/:name") { _, context in
            let name = context.parameters.get("name") ?? ""
            guard let jwks = self.keySets.withLock({ $0[name] }) else { return Response(status: .serviceUnavailable) }
            return Response(
                status: .ok, headers: [.contentType: "application/json", .cacheControl: "max-age=3600"],
                body: .init(byteBuffer: ByteBuffer(string: jwks)))
        }
        router.post("/openai/v1/chat/completions") { request, context in try await self.openAIChat(request, context: context) }
        router.post("/openai/v1/responses") { request, _ in
            let model = (try? await self.body(request))?["model"] as? String ?? ""
            return Self.json(
                #"{"id":"resp_1","object":"response","model":"\#(model)","output":[{"type":"message","role":"assistant","content":[{"type":"output_text","text":"Hi"}]}],"usage":{"input_tokens":10,"output_tokens":5,"total_tokens":15}}"#
            )
        }
        // A provider that is always busy, and one that refuses every request.
        router.post("/busy/v1/chat/completions") { _, _ in
            var response = Self.json(
                #"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#, status: .tooManyRequests)
            response.headers[.retryAfter] = "1"
            return response
        }
        router.post("/picky/v1/chat/completions") { _, _ in
            Self.json(#"{"error":{"message":"Invalid request","type":"invalid_request_error"}}"#, status: .badRequest)
        }
        router.get("/openai/v1/models") { _, _ in Self.json(#"{"object":"list","data":[{"id":"gpt-4o-mini"}]}"#) }
        router.put("/openai/v1/things/:id") { _, _ in Self.json(#"{"updated":true}"#) }
        router.patch("/openai/v1/things/:id") { _, _ in Self.json(#"{"patched":true}"#) }
        router.delete("/openai/v1/things/:id") { _, _ in Self.json(#"{"deleted":true}"#) }
        router.post("/openai/v1/audio/speech") { _, _ in
            Response(status: .ok, headers: [.contentType: "audio/mpeg"], body: .init(byteBuffer: ByteBuffer(bytes: Self.audio)))
        }
        router.post("/openai/v1/embeddings") { request, _ in
            let key = request.headers[.authorization] ?? ""
            return Self.json(
                #"{"error":{"message":"Incorrect API key provided: \#(key.replacingOccurrences(of: "Bearer ", with: ""))"}}"#,
                status: .unauthorized)
        }
        // Declares 1 000 bytes, sends 20, and breaks off.
        // An answer that takes 300 ms to start: the provider's time, not the bridge's.
        router.post("/openai/v1/delayed") { _, _ in
            try await Task.sleep(for: .milliseconds(300))
            return Self.json(#"{"ok":true}"#)
        }
        router.post("/openai/v1/truncated") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json", .contentLength: "1000"],
                body: ResponseBody { writer in
                    try await writer.write(ByteBuffer(string: #"{"model":"gpt-4o-mi"#))
                    throw CancellationError()
                })
        }
        // The same fault on an error answer: a 429 that declares 1 000 bytes and sends 20.
        router.post("/openai/v1/truncated-error") { _, _ in
            Response(
                status: .tooManyRequests, headers: [.contentType: "application/json", .contentLength: "1000"],
                body: ResponseBody { writer in
                    try await writer.write(ByteBuffer(string: #"{"error":{"messag"#))
                    throw CancellationError()
                })
        }
        // A relayed answer (no declared length) that breaks off after its first chunk.
        router.get("/openai/v1/broken-stream") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/octet-stream"],
                body: ResponseBody { writer in
                    try await writer.write(ByteBuffer(string: "first part"))
                    throw CancellationError()
                })
        }
        router.post("/anthropic/v1/messages") { request, context in try await self.anthropic(request, context: context) }
        router.post("/gemini/v1beta/models/:model") { request, context in try await self.gemini(request, context: context) }
        for method in [HTTPRequest.Method.get, .post, .put, .patch, .delete] {
            router.on("/slow/v1/chat/completions", method: method) { _, _ in
                try await Task.sleep(for: .seconds(10))
                return Self.json("{}")
            }
        }
        for path in ["/slow/v1/embeddings", "/slow/v1/responses"] {
            router.post(RouterPath(path)) { _, _ in
                try await Task.sleep(for: .seconds(10))
                return Self.json("{}")
            }
        }
        let port = Mutex<Int>(0)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in port.withLock { $0 = channel.localAddress?.port ?? 0 } },
            logger: Logger(label: "mock-provider") { _ in SwiftLogNoOpLogHandler() }
        )
        Task {
            try await ServiceGroup(configuration: .init(services: [app], logger: Logger(label: "mock") { _ in SwiftLogNoOpLogHandler() }))
                .run()
        }
        for _ in 0..<200 {
            let bound = port.withLock { $0 }
            if bound != 0 { return bound }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw CancellationError()
    }

    static let audio: [UInt8] = (0..<1024).map { UInt8($0 % 256) }

    static func json(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json", HTTPField.Name("x-request-id")!: "upstream-req-1", .setCookie: "tracking=1"],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    private func body(_ request: Request) async throws -> [String: Any] {
        let buffer = try await request.body.collect(upTo: 1 << 20)
        return (try? JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any]) ?? [:]
    }

    private func sse(_ events: [String], context: BasicRequestContext) -> Response {
        Response(
            status: .ok, headers: [.contentType: "text/event-stream"],
            body: ResponseBody { writer in
                do {
                    for event in events {
                        try await writer.write(ByteBuffer(string: event))
                        try await Task.sleep(for: .milliseconds(50))
                    }
                    try await writer.finish(nil)
                } catch {
                    self.cancelled.withLock { $0 += 1 }
                    throw error
                }
            })
    }

    private func openAIChat(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let body = try await body(request)
        let model = body["model"] as? String ?? "gpt-4o-mini"
        let chunks = (body["chunks"] as? Int) ?? 3
        if body["stream"] as? Bool == true {
            var events = (0..<chunks).map { #"data: {"model":"\#(model)","choices":[{"delta":{"content":"w\#($0) "}}]}"# + "\n\n" }
            if (body["stream_options"] as? [String: Any])?["include_usage"] as? Bool == true {
                events.append(
                    #"data: {"model":"\#(model)","choices":[],"usage":{"prompt_tokens":1000,"completion_tokens":\#(chunks),"prompt_tokens_details":{"cached_tokens":400}}}"#
                        + "\n\n")
            }
            events.append("data: [DONE]\n\n")
            return sse(events, context: context)
        }
        return Self.json(
            #"{"model":"\#(model)","choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":1000,"completion_tokens":500,"prompt_tokens_details":{"cached_tokens":400}}}"#
        )
    }

    private func anthropic(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let body = try await body(request)
        if body["stream"] as? Bool == true, "\(body["messages"] ?? "")".contains("break-off") {
            // The stream starts, then the connection breaks.
            return Response(
                status: .ok, headers: [.contentType: "text/event-stream"],
                body: ResponseBody { writer in
                    try await writer.write(
                        ByteBuffer(
                            string:
                                "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_cut\",\"model\":\"claude-3-5-haiku-latest\",\"usage\":{\"input_tokens\":300,\"output_tokens\":1}}}\n\n"
                        ))
                    try await Task.sleep(for: .milliseconds(50))
                    throw CancellationError()
                })
        }
        if body["stream"] as? Bool == true {
            return sse(
                [
                    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_mock\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-3-5-haiku-latest\",\"stop_reason\":null,\"usage\":{\"input_tokens\":300,\"output_tokens\":1}}}\n\n",
                    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
                    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n",
                    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
                    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":42}}\n\n",
                    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
                ], context: context)
        }
        return Self.json(
            #"{"id":"msg_mock","type":"message","role":"assistant","model":"claude-3-5-haiku-latest","content":[{"type":"text","text":"Hi"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":300,"output_tokens":42}}"#
        )
    }

    private func gemini(_ request: Request, context: BasicRequestContext) async throws -> Response {
        _ = try await body(request)
        let model = context.parameters.get("model") ?? ""
        if model.hasSuffix(":streamGenerateContent") {
            return sse(
                [
                    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}]}}],\"usageMetadata\":{\"promptTokenCount\":80,\"candidatesTokenCount\":5},\"modelVersion\":\"gemini-1.5-flash\"}\r\n\r\n",
                    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\" there\"}]},\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":80,\"candidatesTokenCount\":20},\"modelVersion\":\"gemini-1.5-flash\"}\r\n\r\n",
                ], context: context)
        }
        if model.hasSuffix(":batchEmbedContents") {
            return Self.json(#"{"embeddings":[{"values":[0.5,-1.25,3]},{"values":[1,2,3]}]}"#)
        }
        guard model.hasSuffix(":generateContent") else { return Self.json(#"{"error":"no"}"#, status: .notFound) }
        return Self.json(
            #"{"candidates":[{"content":{"role":"model","parts":[{"text":"Hi there"}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":80,"candidatesTokenCount":20},"modelVersion":"gemini-1.5-flash","responseId":"resp-mock"}"#
        )
    }

    struct Recorder: RouterMiddleware {
        typealias Context = BasicRequestContext
        let server: MockProviderServer

        func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
            var request = request
            let buffer = try await request.collectBody(upTo: 1 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            server.log.withLock {
                $0.append(
                    Received(
                        method: request.method.rawValue, path: request.uri.path, query: request.uri.query ?? "", headers: headers,
                        body: String(buffer: buffer)))
            }
            return try await next(request, context)
        }
    }

    /// Test providers pointing at this server, plus one nobody listens for.
    func providers(port: Int) throws -> [ProviderDefinition] {
        let base = "http://127.0.0.1:\(port)"
        let json = #"""
            {"providers": [
              {"id":"testai","baseURL":"\#(base)/openai/v1","keyEnv":"TESTAI_API_KEY","auth":{"style":"bearer"},"usage":"openai","requestStreamUsage":true,
               "passHeaders":["openai-organization"],
               "endpoints":[{"path":"/chat/completions","methods":["POST"]},{"path":"/models","methods":["GET"]},{"path":"/audio/speech","methods":["POST"]},
                            {"path":"/embeddings","methods":["POST"]},{"path":"/responses","methods":["POST"]},{"path":"/things/{id}","methods":["PUT","PATCH","DELETE"]},
                            {"path":"/truncated","methods":["POST"]},{"path":"/delayed","methods":["POST"]},{"path":"/truncated-error","methods":["POST"]},{"path":"/broken-stream","methods":["GET"]}],
               "prices":{"gpt-4o-mini":{"inputMicrosPerMillion":150000,"outputMicrosPerMillion":600000,"cachedInputMicrosPerMillion":75000}}},
              {"id":"testclaude","baseURL":"\#(base)/anthropic/v1","keyEnv":"TESTAI_API_KEY","auth":{"style":"header","name":"x-api-key"},
               "headers":{"anthropic-version":"2023-06-01"},"passHeaders":["anthropic-beta"],"sdkPrefixes":["/v1"],"usage":"anthropic",
               "endpoints":[{"path":"/messages","methods":["POST"]}],
               "prices":{"claude-3-5-haiku-latest":{"inputMicrosPerMillion":800000,"outputMicrosPerMillion":4000000}}},
              {"id":"testgemini","baseURL":"\#(base)/gemini/v1beta","keyEnv":"TESTAI_API_KEY","auth":{"style":"header","name":"x-goog-api-key"},
               "sdkPrefixes":["/v1beta"],"usage":"gemini",
               "endpoints":[{"path":"/models/{model}:generateContent","methods":["POST"]},{"path":"/models/{model}:streamGenerateContent","methods":["POST"]},{"path":"/models/{model}:batchEmbedContents","methods":["POST"]}],
               "prices":{"gemini-1.5-flash":{"inputMicrosPerMillion":75000,"outputMicrosPerMillion":300000}}},
              {"id":"slow","baseURL":"\#(base)/slow/v1","keyEnv":"TESTAI_API_KEY","usage":"openai","endpoints":[{"path":"/chat/completions","methods":["POST","GET","PUT","PATCH","DELETE"]},{"path":"/embeddings","methods":["POST"]},{"path":"/responses","methods":["POST"]}]},
              {"id":"nokey","baseURL":"\#(base)/openai/v1","keyEnv":"NOKEY_API_KEY","usage":"openai","endpoints":[{"path":"/chat/completions","methods":["POST","GET","PUT","PATCH","DELETE"]},{"path":"/embeddings","methods":["POST"]},{"path":"/responses","methods":["POST"]}]},
              {"id":"keyless","baseURL":"\#(base)/openai/v1","auth":{"style":"none"},"usage":"openai","endpoints":[{"path":"/chat/completions","methods":["POST"]}]},
              {"id":"busy","baseURL":"\#(base)/busy/v1","keyEnv":"TESTAI_API_KEY","usage":"openai","endpoints":[{"path":"/chat/completions","methods":["POST"]}]},
              {"id":"picky","baseURL":"\#(base)/picky/v1","keyEnv":"TESTAI_API_KEY","usage":"openai","endpoints":[{"path":"/chat/completions","methods":["POST"]}]},
              {"id":"dead","baseURL":"http://127.0.0.1:1/v1","keyEnv":"TESTAI_API_KEY","usage":"openai","endpoints":[{"path":"/chat/completions","methods":["POST","GET","PUT","PATCH","DELETE"]},{"path":"/embeddings","methods":["POST"]},{"path":"/responses","methods":["POST"]}]}
            ]}
            """#
        return try ProvidersFile.decode(Data(json.utf8), source: "test providers").providers
    }
}
