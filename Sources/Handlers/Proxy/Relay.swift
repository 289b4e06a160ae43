import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The relay stage: the client's answer from the provider's, in one of three modes. An error body
/// is read whole (so a provider that quotes the key cannot leak it); a small answer of known
/// length is read whole and sent in one write; anything else (an event stream, a large or unsized
/// body) is relayed chunk by chunk as it arrives, and a stream stops as soon as the client hangs up.
/// Every mode meters the body it passes into the call's `UsageReport`.
enum Relay {
    /// A non-streamed answer up to this size, with its length declared, is read whole.
    static let wholeBodyLimit = 1 << 20

    /// Upstream response headers a client may see; everything else (cookies, hop-by-hop, server
    /// details) stays behind.
    static let forwardedHeaders: Set<String> = [
        "content-type", "content-disposition", "retry-after", "openai-processing-ms", "openai-version",
    ]
    static let forwardedPrefixes = ["x-ratelimit-", "anthropic-ratelimit-"]

    /// The client's answer. With a `translation` (the gateway), an error body and a non-streamed
    /// answer are read whole and translated, and a stream is translated event by event as it passes.
    static func answer(
        _ upstream: UpstreamResponse, provider: Provider, key: Secret<String>?, report: UsageReport,
        translation: (any AnswerTranslation)? = nil, connectionClosed: EventLoopFuture<Void>?
    ) async throws -> ProxyAnswer {
        let isEventStream = upstream.headers[.contentType]?.lowercased().hasPrefix("text/event-stream") == true
        report.answered(status: upstream.status, format: provider.definition.usage, isEventStream: isEventStream)
        let status = HTTPResponse.Status(code: upstream.status)
        var headers = clientHeaders(upstream)
        if translation != nil, !isEventStream { headers[.contentType] = "application/json" }
        if upstream.status >= 400 {
            var body = redacting(key, in: try await readWhole(upstream, limit: 1 << 20, report: report))
            if let translation { body = translation.error(body, status: upstream.status) }
            report.completed()
            return ProxyAnswer(status: status, headers: headers, body: .init(byteBuffer: body))
        }
        let length = upstream.headers[.contentLength].flatMap(Int.init)
        if !isEventStream, let limit = translation != nil ? wholeBodyLimit : length.flatMap({ $0 <= wholeBodyLimit ? $0 : nil }) {
            var body = try await readWhole(upstream, limit: limit, report: report)
            report.meter(body)
            if let translation {
                do {
                    body = try translation.answer(body)
                } catch {
                    report.failed(status: 502)
                    throw AppError.upstreamInvalid
                }
            }
            report.completed()
            return ProxyAnswer(status: status, headers: headers, body: .init(byteBuffer: body))
        }
        if isEventStream { report.streaming() }
        let translator = isEventStream ? translation?.stream() ?? nil : nil
        let body = ResponseBody { writer in
            // The relay may run in a child task (below), so the writer travels there and back in a box.
            let box = WriterBox(writer)
            do {
                if isEventStream, let connectionClosed {
                    // A stream can be silent for long: stop as soon as the client hangs up.
                    try await cancelling(when: connectionClosed) {
                        try await upstream.body { chunk in
                            report.sawBytes(metering: chunk)
                            try await write(translator?.feed(chunk) ?? chunk, to: &box.writer)
                        }
                    }
                } else {
                    try await upstream.body { chunk in
                        report.sawBytes(metering: chunk)
                        try await write(translator?.feed(chunk) ?? chunk, to: &box.writer)
                    }
                }
            } catch  where translator != nil && !(error is CancellationError) {
                // The provider broke its stream off: the translation ends it with an error event.
                report.failed(status: 502)
            }
            writer = box.writer
            if let translator { try await write(translator.finish(), to: &writer) }
            try await writer.finish(nil)
            report.completed()
        }
        return ProxyAnswer(status: status, headers: headers, body: body)
    }

    /// Writes `bytes` unless there are none (a translator holding an event back).
    private static func write(_ bytes: ByteBuffer, to writer: inout any ResponseBodyWriter) async throws {
        if bytes.readableBytes > 0 { try await writer.write(bytes) }
    }

    /// An answer that will not go to the client (an attempt given up for the next): read whole,
    /// metered and recorded as the provider's.
    static func discard(_ upstream: UpstreamResponse, provider: Provider, report: UsageReport) async throws {
        report.answered(status: upstream.status, format: provider.definition.usage, isEventStream: false)
        report.meter(try await readWhole(upstream, limit: 1 << 20, report: report))
        report.completed()
    }

    /// The headers a client may see, the provider's request id under our name, the provider's
    /// status, and `no-store` unless the provider said otherwise.
    static func clientHeaders(_ upstream: UpstreamResponse) -> HTTPFields {
        var headers = HTTPFields()
        for field in upstream.headers {
            let name = field.name.canonicalName
            if forwardedHeaders.contains(name) || forwardedPrefixes.contains(where: name.hasPrefix) { headers.append(field) }
        }
        if let upstreamId = upstream.headers[HTTPField.Name("x-request-id")!] ?? upstream.headers[HTTPField.Name("request-id")!] {
            headers[HTTPField.Name("x-upstream-request-id")!] = upstreamId
        }
        headers[.upstreamStatus] = String(upstream.status)
        headers[.cacheControl] = headers[.cacheControl] ?? "no-store"
        return headers
    }

    /// A body read whole (at most `limit` bytes kept) before anything goes to the client. If the
    /// provider breaks it off or goes silent, the answer is the bridge's 502 (504), never a 500
    /// nor half an answer; if the client hangs up, the call ends as cancelled.
    static func readWhole(_ upstream: UpstreamResponse, limit: Int, report: UsageReport) async throws -> ByteBuffer {
        var collected = ByteBuffer()
        collected.reserveCapacity(min(limit, 64 << 10))
        do {
            try await upstream.body { chunk in
                report.sawBytes()
                var chunk = chunk
                if collected.readableBytes < limit { collected.writeBuffer(&chunk) }
            }
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            let timedOut = error as? UpstreamError == .timeout
            report.failed(status: timedOut ? 504 : 502)
            throw timedOut ? AppError.upstreamTimeout : AppError.upstreamUnreachable
        }
        return collected
    }

    /// Runs `operation`, cancelled if `closed` completes first. The connection itself is left
    /// alone (Hummingbird's inbound-close helper closes it after the response, so every stream
    /// cost a new connection). The callback left on `closed` holds only an empty stream until the
    /// connection ends.
    static func cancelling(when closed: EventLoopFuture<Void>, _ operation: @escaping @Sendable () async throws -> Void) async throws {
        let (barrier, hangUp) = AsyncStream<Void>.makeStream()
        closed.whenComplete { _ in hangUp.finish() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in barrier {}
                // The connection closed (or this task was cancelled because the operation ended).
                throw CancellationError()
            }
            group.addTask(operation: operation)
            try await group.next()
            group.cancelAll()
        }
        hangUp.finish()
    }

    /// The body with every occurrence of the provider key replaced.
    static func redacting(_ key: Secret<String>?, in body: ByteBuffer) -> ByteBuffer {
        guard let key, key.value.count >= 8, let text = body.getString(at: body.readerIndex, length: body.readableBytes),
            text.contains(key.value)
        else {
            return body
        }
        return ByteBuffer(string: text.replacingOccurrences(of: key.value, with: "[redacted]"))
    }
}

/// A response writer handed to the child task that relays a stream; only that task uses it until
/// the relay ends, then only the response's own task again.
final class WriterBox: @unchecked Sendable {
    var writer: any ResponseBodyWriter
    init(_ writer: any ResponseBodyWriter) { self.writer = writer }
}
