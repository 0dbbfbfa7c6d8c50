import Crypto
import Foundation
import XCTest

/// Bodies stream through both ways; what arrives is byte-for-byte what was sent.
final class StreamingTests: XCTestCase {
    static let size = 48 * 1024 * 1024

    func testLargeUploadContentLengthAndChunked() async throws {
        let h = try await GatewayHarness()
        let token = h.token()
        let piece = [UInt8]((0..<(1024 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        var expected = SHA256()
        for _ in 0..<(Self.size / piece.count) { expected.update(data: piece) }
        let digest = expected.finalize().map { String(format: "%02x", $0) }.joined()

        let client = try h.client()
        try client.send("POST /upload HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \(token)\r\nContent-Length: \(Self.size)\r\n\r\n")
        for _ in 0..<(Self.size / piece.count) { try client.send(piece) }
        let plain = try client.readResponse()
        XCTAssertEqual(plain.json["body_sha256"] as? String, digest)
        XCTAssertEqual(plain.json["body_bytes"] as? Int, Self.size)

        try client.send("PUT /upload HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \(token)\r\nTransfer-Encoding: chunked\r\n\r\n")
        let chunkHead = Array((String(piece.count, radix: 16) + "\r\n").utf8)
        for _ in 0..<(Self.size / piece.count) { try client.send(chunkHead + piece + [13, 10]) }
        try client.send("0\r\n\r\n")
        let chunked = try client.readResponse()
        XCTAssertEqual(chunked.json["body_sha256"] as? String, digest)
        await h.stop()
    }

    func testLargeDownloadContentLengthAndChunked() async throws {
        let h = try await GatewayHarness()
        let token = h.token()
        let client = try h.client()
        for chunked in [false, true] {
            try client.send("GET /download?bytes=\(Self.size)\(chunked ? "&chunked=1" : "") HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \(token)\r\n\r\n")
            var hasher = SHA256()
            var received = 0
            var mismatch = false
            let response = try client.readResponse { bytes in
                hasher.update(bufferPointer: bytes)
                for (offset, byte) in bytes.enumerated() where byte != TestUpstream.patternByte(received + offset) {
                    mismatch = true
                    break
                }
                received += bytes.count
            }
            XCTAssertEqual(response.status, 200)
            XCTAssertEqual(received, Self.size, chunked ? "chunked" : "content-length")
            XCTAssertFalse(mismatch, "every byte arrives in order")
        }
        await h.stop()
    }
}
