public import NIOCore

/// When the client speaks another dialect than the provider (the gateway's translations), the
/// relay passes the provider's answer through a translation instead of as it is. Usage is still
/// metered on the provider's own bytes, before they are translated.
public protocol AnswerTranslation: Sendable {
    /// A whole answer (status below 400) in the client's dialect; throws if it is not one the
    /// translation understands.
    func answer(_ body: ByteBuffer) throws -> ByteBuffer
    /// The provider's error body in the client's error shape.
    func error(_ body: ByteBuffer, status: Int) -> ByteBuffer
    /// A translator for one event stream, fed its chunks in order; nil: the stream goes through as
    /// it is (an operation that never streams).
    func stream() -> (any StreamTranslator)?
}

/// Turns a provider's event stream into the client's, chunk by chunk, holding back only an
/// event's unfinished lines.
public protocol StreamTranslator: Sendable {
    /// What the client gets for `chunk` (possibly nothing yet).
    func feed(_ chunk: ByteBuffer) -> ByteBuffer
    /// What the client gets when the provider's stream has ended.
    func finish() -> ByteBuffer
}
