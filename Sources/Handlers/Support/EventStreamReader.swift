import NIOCore

/// The events of a `text/event-stream` (WHATWG HTML, "server-sent events"), read from chunks as
/// they arrive: a line split across chunks is joined, the `data:` lines of one event are joined
/// by newlines, and a blank line ends the event. Comments and other fields are skipped.
struct EventStreamReader {
    struct Event {
        /// The `event:` field, if any.
        var name: String?
        var data: [UInt8]
    }

    private var pending = ByteBuffer()
    private var name: String?
    private var data: [UInt8] = []
    private var hasData = false

    /// The events `chunk` completes.
    mutating func feed(_ chunk: ByteBuffer) -> [Event] {
        var events: [Event] = []
        var chunk = chunk
        pending.writeBuffer(&chunk)
        while let newline = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            var line = pending.readBytes(length: newline - pending.readerIndex) ?? []
            pending.moveReaderIndex(forwardBy: 1)
            if line.last == UInt8(ascii: "\r") { line.removeLast() }
            if line.isEmpty {
                if let event = dispatch() { events.append(event) }
            } else if line.starts(with: Self.dataField) {
                var value = line.dropFirst(Self.dataField.count)
                if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
                if hasData { data.append(UInt8(ascii: "\n")) }
                data.append(contentsOf: value)
                hasData = true
            } else if line.starts(with: Self.eventField) {
                var value = line.dropFirst(Self.eventField.count)
                if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
                name = String(decoding: value, as: UTF8.self)
            }
        }
        pending.discardReadBytes()
        return events
    }

    /// The event the stream's last lines began without the blank line that ends it (a stream cut
    /// short, or one whose last event the provider did not end).
    mutating func finish() -> Event? {
        dispatch()
    }

    private mutating func dispatch() -> Event? {
        defer {
            name = nil
            data.removeAll(keepingCapacity: true)
            hasData = false
        }
        return hasData ? Event(name: name, data: data) : nil
    }

    static let dataField = Array("data:".utf8)
    static let eventField = Array("event:".utf8)
}
