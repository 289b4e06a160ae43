public import NIOCore
public import NIOHTTPTypes
import Synchronization

/// Caps the connections open at once across the server: one over the cap is closed as soon as it
/// is accepted. Shared by every connection's `ConnectionCapHandler`.
public final class ConnectionCounter: Sendable {
    public let maximum: Int
    private let open = Atomic<Int>(0)

    public init(maximum: Int) {
        self.maximum = maximum
    }

    public var current: Int { open.load(ordering: .relaxed) }

    func enter() -> Bool {
        let now = open.wrappingAdd(1, ordering: .relaxed).newValue
        return now <= maximum
    }

    func leave() { open.wrappingSubtract(1, ordering: .relaxed) }
}

public final class ConnectionCapHandler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPRequestPart
    let counter: ConnectionCounter
    private var counted = false

    public init(counter: ConnectionCounter) {
        self.counter = counter
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        counted = true
        if !counter.enter() { context.close(promise: nil) }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        if counted {
            counted = false
            counter.leave()
        }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        if counted {
            counted = false
            counter.leave()
        }
        context.fireChannelInactive()
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
