public import HTTPTypes
import Instrumentation
public import ServiceContextModule
public import Tracing

/// The tracer the bridge traces with: swift-otel's when `TRACING_ENDPOINT` is set, else none. It
/// is handed to each stage rather than bootstrapped globally (`InstrumentationSystem`), so that
/// two applications in one process (the tests) each keep their own, as with the metrics; one
/// concrete type, so the stages need no generic parameter.
public struct RequestTracer: Sendable {
    private let start: @Sendable (String, ServiceContext, SpanKind) -> any Span
    private let extractor: @Sendable (HTTPFields) -> ServiceContext
    /// False for no tracer: the stages then do no tracing work at all.
    public let isEnabled: Bool

    public init<T: Tracer>(_ tracer: T) {
        start = { name, context, kind in tracer.startSpan(name, context: context, ofKind: kind) }
        extractor = { headers in
            var context = ServiceContext.topLevel
            tracer.extract(headers, into: &context, using: HeaderExtractor())
            return context
        }
        isEnabled = !(tracer is NoOpTracer)
    }

    public static let none = RequestTracer(NoOpTracer())
    private static let idle: any Span = NoOpTracer.NoOpSpan(context: .topLevel)

    /// The context a client's `traceparent` (W3C Trace Context) names, or the top level.
    public func context(from headers: HTTPFields) -> ServiceContext { extractor(headers) }

    /// `body` inside a span, child of `context` (by default the current one); the span ends when
    /// `body` returns, and records the error `body` throws.
    public func withSpan<Result>(
        _ name: String, context: ServiceContext? = nil, kind: SpanKind = .internal, _ body: (any Span) async throws -> Result
    ) async rethrows -> Result {
        // Off: not even a task-local value is set.
        guard isEnabled else { return try await body(Self.idle) }
        let span = start(name, context ?? ServiceContext.current ?? .topLevel, kind)
        defer { span.end() }
        do {
            return try await ServiceContext.withValue(span.context) { try await body(span) }
        } catch {
            span.recordError(error)
            throw error
        }
    }

    /// A span that lasts no time: a fact about the request, as of now (the usage it recorded).
    public func mark(_ name: String, context: ServiceContext?, attributes: (inout SpanAttributes) -> Void) {
        guard isEnabled else { return }
        let span = start(name, context ?? .topLevel, .internal)
        attributes(&span.attributes)
        span.end()
    }
}

/// Reads `traceparent` and `tracestate` from the request's headers.
struct HeaderExtractor: Extractor {
    func extract(key: String, from headers: HTTPFields) -> String? {
        HTTPField.Name(key).flatMap { headers[$0] }
    }
}
