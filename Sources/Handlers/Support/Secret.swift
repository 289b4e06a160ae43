/// A value that must never be printed: its description, debug description and dump are
/// `<redacted>`, so a secret passed to a logger or interpolated into a message shows nothing.
public struct Secret<Value: Sendable>: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The secret itself. Read it only where it is used (signing, comparing, sending upstream).
    public let value: Value

    public init(_ value: Value) {
        self.value = value
    }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: []) }
}

extension Secret: Equatable where Value: Equatable {}
