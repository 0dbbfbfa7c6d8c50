import CHiredis
import NIOCore

/// A Redis reply as a Swift value. Built from a hiredis `redisReply`, which is freed exactly
/// once, right after conversion.
enum RedisReply: Equatable, Sendable {
    case string([UInt8])
    case status(String)
    case integer(Int64)
    case array([RedisReply])
    case null
    case error(String)

    /// Converts and frees the top-level reply (hiredis frees nested elements with it).
    static func take(_ raw: UnsafeMutableRawPointer) -> RedisReply {
        defer { freeReplyObject(raw) }
        return convert(raw.assumingMemoryBound(to: redisReply.self))
    }

    private static func convert(_ pointer: UnsafeMutablePointer<redisReply>) -> RedisReply {
        let reply = pointer.pointee
        func bytes() -> [UInt8] {
            guard let str = reply.str, reply.len > 0 else { return [] }
            return Array(UnsafeRawBufferPointer(start: str, count: Int(reply.len)))
        }
        switch reply.type {
        case REDIS_REPLY_STRING: return .string(bytes())
        case REDIS_REPLY_STATUS: return .status(String(decoding: bytes(), as: UTF8.self))
        case REDIS_REPLY_ERROR: return .error(String(decoding: bytes(), as: UTF8.self))
        case REDIS_REPLY_INTEGER: return .integer(Int64(reply.integer))
        case REDIS_REPLY_NIL: return .null
        case REDIS_REPLY_ARRAY:
            var elements: [RedisReply] = []
            elements.reserveCapacity(Int(reply.elements))
            for index in 0..<Int(reply.elements) {
                if let element = reply.element[index] {
                    elements.append(convert(element))
                } else {
                    elements.append(.null)
                }
            }
            return .array(elements)
        default:
            return .error("unsupported reply type \(reply.type)")
        }
    }

    var text: String? {
        switch self {
        case .string(let bytes): String(decoding: bytes, as: UTF8.self)
        case .status(let text): text
        default: nil
        }
    }
}

/// hiredis's incremental reply parser: bytes in, whole replies out.
final class RedisReplyReader {
    private let reader: UnsafeMutablePointer<redisReader>

    struct ProtocolError: Error, CustomStringConvertible {
        var description: String
    }

    init() {
        // redisReaderCreate only fails when out of memory.
        reader = redisReaderCreate()!
    }

    deinit { redisReaderFree(reader) }

    func feed(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        let status = redisReaderFeed(reader, base.assumingMemoryBound(to: CChar.self), bytes.count)
        guard status == REDIS_OK else { throw ProtocolError(description: errorText()) }
    }

    /// The next complete reply, or nil when more bytes are needed.
    func next() throws -> RedisReply? {
        var raw: UnsafeMutableRawPointer?
        guard redisReaderGetReply(reader, &raw) == REDIS_OK else { throw ProtocolError(description: errorText()) }
        return raw.map(RedisReply.take)
    }

    private func errorText() -> String {
        withUnsafeBytes(of: reader.pointee.errstr) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}

/// Encodes a command with hiredis's formatter.
enum RedisCommand {
    static func encode(_ arguments: [String], into buffer: inout ByteBuffer) {
        // One flat copy of every argument, so each pointer stays valid for the whole call.
        var flat: [CChar] = []
        var offsets: [Int] = []
        var lengths: [Int] = []
        for argument in arguments {
            offsets.append(flat.count)
            lengths.append(argument.utf8.count)
            flat.append(contentsOf: argument.utf8.map { CChar(bitPattern: $0) })
        }
        flat.append(0)
        flat.withUnsafeBufferPointer { all in
            guard let base = all.baseAddress else { return }
            var pointers: [UnsafePointer<CChar>?] = offsets.map { base + $0 }
            var target: UnsafeMutablePointer<CChar>?
            let length = pointers.withUnsafeMutableBufferPointer { p in
                lengths.withUnsafeBufferPointer { l in
                    redisFormatCommandArgv(&target, Int32(arguments.count), p.baseAddress, l.baseAddress)
                }
            }
            if let target {
                if length > 0 { buffer.writeBytes(UnsafeRawBufferPointer(start: target, count: Int(length))) }
                redisFreeCommand(target)
            }
        }
    }
}
