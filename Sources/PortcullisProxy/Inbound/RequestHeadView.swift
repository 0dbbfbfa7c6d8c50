import NIOCore
import PortcullisCore

/// What the gate reads of a parsed request head: field values looked up by name in place,
/// made into strings only when asked for (the token's header or cookie, CSRF, refresh token).
struct RequestHeadView: RequestHeaders {
    let head: RequestHead
    let bytes: ByteBuffer

    func firstValue(_ name: String) -> String? {
        var name = name
        return name.withUTF8 { wanted in
            bytes.withUnsafeReadableBytes { raw in
                for field in head.fields where Self.nameEquals(raw, field.name, wanted) {
                    return String(decoding: UnsafeRawBufferPointer(rebasing: raw[field.value]), as: UTF8.self)
                }
                return nil
            }
        }
    }

    func allValues(_ name: String) -> [String] {
        var name = name
        return name.withUTF8 { wanted in
            bytes.withUnsafeReadableBytes { raw in
                var values: [String] = []
                for field in head.fields where Self.nameEquals(raw, field.name, wanted) {
                    values.append(String(decoding: UnsafeRawBufferPointer(rebasing: raw[field.value]), as: UTF8.self))
                }
                return values
            }
        }
    }

    var method: String {
        bytes.withUnsafeReadableBytes { String(decoding: UnsafeRawBufferPointer(rebasing: $0[head.method]), as: UTF8.self) }
    }

    var target: String {
        bytes.withUnsafeReadableBytes { String(decoding: UnsafeRawBufferPointer(rebasing: $0[head.target]), as: UTF8.self) }
    }

    @inline(__always)
    private static func nameEquals(_ raw: UnsafeRawBufferPointer, _ range: Range<Int>, _ wanted: UnsafeBufferPointer<UInt8>) -> Bool {
        guard range.count == wanted.count else { return false }
        var index = 0
        for position in range {
            if HTTPBytes.lower(raw[position]) != HTTPBytes.lower(wanted[index]) { return false }
            index += 1
        }
        return true
    }
}
