import NIOCore
import NIOSSL

/// One short exchange with a server on a fresh channel (a Sentinel query): the commands
/// pipelined, every reply, then the channel is closed. Fails past `timeout`.
enum RedisOneShot {
    static func run(_ commands: [[String]], at address: RedisAddress, on loop: EventLoop, tls: NIOSSLContext?,
                    timeout: TimeAmount) -> EventLoopFuture<[RedisReply]> {
        guard loop.inEventLoop else {
            return loop.flatSubmit { run(commands, at: address, on: loop, tls: tls, timeout: timeout) }
        }
        let promise = loop.makePromise(of: [RedisReply].self)
        let deadline = loop.scheduleTask(in: timeout) {
            promise.fail(RedisUnavailable(description: "no answer within \(timeout.nanoseconds / 1_000_000)ms"))
        }
        RedisChannel.connect(to: address, on: loop, tls: tls, connectTimeout: timeout)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .failure(let error):
                    deadline.cancel()
                    promise.fail(error)
                case .success(let channel):
                    guard let handler = try? channel.pipeline.syncOperations.handler(type: RedisChannelHandler.self) else {
                        channel.close(promise: nil)
                        promise.fail(RedisUnavailable(description: "no RESP handler"))
                        return
                    }
                    var replies: [RedisReply] = []
                    handler.onReply = { reply in
                        replies.append(reply)
                        if replies.count == commands.count {
                            deadline.cancel()
                            promise.succeed(replies)
                            channel.close(promise: nil)
                        }
                    }
                    handler.onClose = { promise.fail(RedisUnavailable(description: "closed before answering")) }
                    promise.futureResult.whenFailure { _ in channel.close(promise: nil) }
                    var buffer = channel.allocator.buffer(capacity: 128)
                    for command in commands { RedisCommand.encode(command, into: &buffer) }
                    channel.writeAndFlush(buffer, promise: nil)
                }
            }
        return promise.futureResult
    }
}
