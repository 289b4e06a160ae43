public import HTTPTypes

extension LimitStanding {
    /// `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (IETF draft, seconds), kept
    /// tighter than whatever another limit already wrote.
    public func write(to headers: inout HTTPFields) {
        if let written = headers[.rateLimitRemaining].flatMap(Int64.init), written < remaining { return }
        headers[.rateLimitLimit] = String(limit)
        headers[.rateLimitRemaining] = String(remaining)
        headers[.rateLimitReset] = String(resetSeconds)
    }
}

extension HTTPField.Name {
    public static let rateLimitLimit = Self("RateLimit-Limit")!
    public static let rateLimitRemaining = Self("RateLimit-Remaining")!
    public static let rateLimitReset = Self("RateLimit-Reset")!
}
