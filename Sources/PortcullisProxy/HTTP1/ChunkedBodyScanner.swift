/// Follows chunked transfer coding (RFC 9112 §7.1) over a body as it arrives, without
/// copying it: it reports where the data of each chunk lies and where the message ends, and
/// refuses anything malformed (a size that is not hex or overflows, bytes after the size
/// other than an extension, a chunk not followed by CRLF, bare LF).
///
/// The relay forwards chunked bodies as they came (the scanner only validates and finds the
/// end); a client that cannot read chunked coding gets the data ranges alone.
struct ChunkedBodyScanner: Equatable {
    enum Result: Equatable {
        /// Every byte given belongs to the body; more is needed.
        case needMore
        /// The body ends after this many of the bytes given (the rest is the next message).
        case complete(Int)
        case malformed(String)
    }

    private enum State: Equatable {
        case size(value: Int, digits: Int)
        /// After the size: an extension or whitespace, up to CR.
        case sizeLineRest
        case sizeLineLF(size: Int)
        case data(remaining: Int)
        case dataCR
        case dataLF
        /// At the start of a trailer line (or the final empty line).
        case trailerLineStart
        case trailerLine
        case trailerLineLF(empty: Bool)
        case done
    }

    private var state = State.size(value: 0, digits: 0)
    private var pendingSize = 0
    /// Trailer bytes seen, bounded so a peer cannot send an endless trailer section.
    private var trailerBytes = 0
    static let maxTrailerBytes = 16 * 1024
    static let maxSizeDigits = 15

    var isComplete: Bool { state == .done }

    /// Scans `bytes`; `onData` receives the ranges (within `bytes`) of chunk data.
    mutating func scan(_ bytes: UnsafeRawBufferPointer, onData: (Range<Int>) -> Void = { _ in }) -> Result {
        var position = 0
        let count = bytes.count
        while position < count {
            let byte = bytes[position]
            switch state {
            case .size(let value, let digits):
                if let digit = Self.hexValue(byte) {
                    guard digits < Self.maxSizeDigits else { return .malformed("chunk size too large") }
                    state = .size(value: value << 4 | digit, digits: digits + 1)
                } else {
                    guard digits > 0 else { return .malformed("chunk size is not hexadecimal") }
                    pendingSize = value
                    if byte == HTTPBytes.cr {
                        state = .sizeLineLF(size: value)
                    } else if byte == UInt8(ascii: ";") || byte == HTTPBytes.sp || byte == HTTPBytes.htab {
                        state = .sizeLineRest
                    } else {
                        return .malformed("invalid byte after a chunk size")
                    }
                }
                position += 1
            case .sizeLineRest:
                if byte == HTTPBytes.cr {
                    state = .sizeLineLF(size: pendingSize)
                } else if !HTTPBytes.isFieldValue(byte) {
                    return .malformed("invalid byte in a chunk extension")
                }
                position += 1
            case .sizeLineLF(let size):
                guard byte == HTTPBytes.lf else { return .malformed("chunk size line not ended by CRLF") }
                state = size == 0 ? .trailerLineStart : .data(remaining: size)
                position += 1
            case .data(let remaining):
                let take = min(remaining, count - position)
                onData(position..<position + take)
                position += take
                state = remaining == take ? .dataCR : .data(remaining: remaining - take)
            case .dataCR:
                guard byte == HTTPBytes.cr else { return .malformed("chunk data not followed by CRLF") }
                state = .dataLF
                position += 1
            case .dataLF:
                guard byte == HTTPBytes.lf else { return .malformed("chunk data not followed by CRLF") }
                state = .size(value: 0, digits: 0)
                position += 1
            case .trailerLineStart:
                if byte == HTTPBytes.cr {
                    state = .trailerLineLF(empty: true)
                } else if HTTPBytes.isToken(byte) {
                    state = .trailerLine
                } else {
                    return .malformed("invalid trailer field")
                }
                position += 1
                trailerBytes += 1
            case .trailerLine:
                if byte == HTTPBytes.cr {
                    state = .trailerLineLF(empty: false)
                } else if !HTTPBytes.isFieldValue(byte) {
                    return .malformed("invalid byte in a trailer field")
                }
                position += 1
                trailerBytes += 1
            case .trailerLineLF(let empty):
                guard byte == HTTPBytes.lf else { return .malformed("trailer line not ended by CRLF") }
                position += 1
                if empty {
                    state = .done
                    return .complete(position)
                }
                state = .trailerLineStart
            case .done:
                return .complete(position)
            }
            if trailerBytes > Self.maxTrailerBytes { return .malformed("trailer section too large") }
        }
        return state == .done ? .complete(position) : .needMore
    }

    @inline(__always)
    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }
}
