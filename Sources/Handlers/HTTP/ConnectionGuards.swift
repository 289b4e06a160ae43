import HTTPTypes
public import NIOCore
import NIOHTTP1
public import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import Synchronization

/// Caps the connections open at once: across the server, and per client address, so that one
/// address cannot hold every connection (idle sockets kept others out until the head deadline).
/// A connection over either cap is closed as soon as it is accepted. Addresses of trusted proxies
/// (`TRUSTED_PROXIES`) carry many clients and have only the total cap. Shared by every
/// connection's `ConnectionCapHandler`.
public final class ConnectionCounter: Sendable {
    public let maximum: Int
    public let maximumPerAddress: Int
    let trusted: [CIDR]
    private struct Counts {
        var total = 0
        var byAddress: [IPAddress: Int] = [:]
    }
    private let counts = Mutex(Counts())

    public init(maximum: Int, maximumPerAddress: Int, trusted: [CIDR] = []) {
        self.maximum = maximum
        self.maximumPerAddress = maximumPerAddress
        self.trusted = trusted
    }

    public var current: Int { counts.withLock { $0.total } }

    /// The address a connection from `peer` counts against: an IPv4 address, or an IPv6 address's
    /// /64 (one host usually has the whole /64); nil for a trusted proxy, or a peer that is not an
    /// IP address.
    func limitedAddress(_ peer: String?) -> IPAddress? {
        guard let address = peer.flatMap({ IPAddress($0) }), !trusted.contains(where: { $0.contains(address) }) else { return nil }
        return address.limitKey
    }

    /// Counts a new connection (`limited`: from `limitedAddress`); false when it is over a cap,
    /// and then it was not counted.
    func enter(_ limited: IPAddress?) -> Bool {
        counts.withLock { counts in
            guard counts.total < maximum else { return false }
            if let limited {
                let current = counts.byAddress[limited, default: 0]
                guard current < maximumPerAddress else { return false }
                counts.byAddress[limited] = current + 1
            }
            counts.total += 1
            return true
        }
    }

    func leave(_ limited: IPAddress?) {
        counts.withLock { counts in
            counts.total -= 1
            if let limited, let current = counts.byAddress[limited] {
                counts.byAddress[limited] = current > 1 ? current - 1 : nil
            }
        }
    }
}

public final class ConnectionCapHandler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPRequestPart
    let counter: ConnectionCounter
    private var counted = false
    /// The address this connection counts against, if any.
    private var address: IPAddress?

    public init(counter: ConnectionCounter) {
        self.counter = counter
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        address = counter.limitedAddress(context.channel.remoteAddress?.ipAddress)
        if counter.enter(address) {
            counted = true
        } else {
            context.close(promise: nil)
        }
    }

    public func handlerRemoved(context: ChannelHandlerContext) { leave() }

    public func channelInactive(context: ChannelHandlerContext) {
        leave()
        context.fireChannelInactive()
    }

    private func leave() {
        if counted {
            counted = false
            counter.leave(address)
        }
    }
}

/// Bounds how long a client may take to send a request: its head must be complete within
/// `headTimeout` of the connection opening or the previous response ending, and its body within
/// `bodyTimeout` of the head. A client that trickles bytes (slowloris) is disconnected; the
/// idle timeout alone would not catch it, since every byte resets it. No deadline runs while the
/// server is working on a response, however long it streams, nor while a pipelined request waits
/// for its turn. An idle keep-alive connection is closed after `headTimeout`.
public final class ReadDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPRequestPart
    public typealias InboundOut = HTTPRequestPart
    public typealias OutboundIn = HTTPResponsePart
    public typealias OutboundOut = HTTPResponsePart

    let headTimeout: TimeAmount
    let bodyTimeout: TimeAmount
    private var deadline: Scheduled<Void>?
    /// Requests whose head has arrived and whose response has not ended.
    private var pending = 0

    public init(headTimeout: TimeAmount, bodyTimeout: TimeAmount) {
        self.headTimeout = headTimeout
        self.bodyTimeout = bodyTimeout
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context, headTimeout) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        arm(context, headTimeout)
        context.fireChannelActive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) { disarm() }

    public func channelInactive(context: ChannelHandlerContext) {
        disarm()
        context.fireChannelInactive()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            pending += 1
            arm(context, bodyTimeout)
        case .end: disarm()
        case .body: break
        }
        context.fireChannelRead(data)
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            pending = max(0, pending - 1)
            if pending == 0 { arm(context, headTimeout) }
        }
        context.write(data, promise: promise)
    }

    private func arm(_ context: ChannelHandlerContext, _ timeout: TimeAmount) {
        disarm()
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: timeout) {
            channel.close(promise: nil)
        }
    }

    private func disarm() {
        deadline?.cancel()
        deadline = nil
    }
}

/// RFC 9112 §3.2: an HTTP/1.1 request has exactly one `Host` header, and no request has two.
/// The HTTP version is gone once the head is converted to HTTP types, so this runs before the
/// conversion: it inserts `HTTP1HostCheck` in front of the codec, then leaves the pipeline. The
/// check only marks the request; `RequestLimitsMiddleware` answers it with 400 `invalid_host`,
/// so the refusal carries the request id and the security headers like every other error.
public final class HostCheckInstaller: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPRequestPart

    public init() {}

    public func handlerAdded(context: ChannelHandlerContext) {
        let pipeline = context.pipeline.syncOperations
        if let codec = try? pipeline.handler(type: HTTP1ToHTTPServerCodec.self) {
            try? pipeline.addHandler(HTTP1HostCheck(), position: .before(codec))
        }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

final class HTTP1HostCheck: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    /// Set on a request whose `Host` headers are wrong; a client's own value is removed first.
    static let marker = "x-safeapi-invalid-host"

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data) else {
            context.fireChannelRead(data)
            return
        }
        head.headers.remove(name: Self.marker)
        let hosts = head.headers["Host"].count
        if hosts > 1 || (hosts == 0 && (head.version.major, head.version.minor) >= (1, 1)) {
            head.headers.add(name: Self.marker, value: hosts == 0 ? "missing" : "repeated")
        }
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }
}

extension HTTPField.Name {
    static let invalidHost = Self(HTTP1HostCheck.marker)!
}
